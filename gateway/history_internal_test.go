package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

func openHistory(t *testing.T, dir string, max int) *History {
	t.Helper()
	h, err := OpenHistory(HistoryConfig{Dir: dir, MaxValues: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func consentFor(subject string, retention time.Duration) access.HistoryConsent {
	return access.HistoryConsent{Subject: subject, GrantID: "g-" + subject, Purpose: "p-" + subject, Retention: retention}
}

// values returns the history as comparable strings, ordered.
func values(t *testing.T, h *History, subject string) []string {
	t.Helper()
	vals, err := h.Values(t.Context(), HistoryQuery{Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d|%s", v.Subject, v.GrantID, v.Purpose, v.ThingID, v.Property,
			v.Time.UnixNano(), v.Expires.UnixNano(), v.Value)
	}
	return out
}

func fileBytes(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, historyFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDurableHistoryRestart(t *testing.T) {
	dir := t.TempDir()
	h := openHistory(t, dir, 0)
	t0 := time.Now().Add(-time.Minute)
	for i := range 5 {
		h.record(consentFor("alice", time.Hour), "urn:lamp", "brightness", t0.Add(time.Duration(i)*time.Second), json.RawMessage(fmt.Sprint(i*10)))
		h.record(consentFor("bob", time.Hour), "urn:meter", "power", t0.Add(time.Duration(i)*time.Second), json.RawMessage(`{"w":`+fmt.Sprint(i)+`}`))
	}
	wantA, wantB := values(t, h, "alice"), values(t, h, "bob")
	if len(wantA) != 5 || len(wantB) != 5 {
		t.Fatalf("held %d and %d values", len(wantA), len(wantB))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h2 := openHistory(t, dir, 0)
	if got := values(t, h2, "alice"); !slices.Equal(got, wantA) {
		t.Errorf("alice after restart:\n%q\nwant\n%q", got, wantA)
	}
	if got := values(t, h2, "bob"); !slices.Equal(got, wantB) {
		t.Errorf("bob after restart:\n%q\nwant\n%q", got, wantB)
	}
	if h2.Len() != 10 {
		t.Errorf("Len %d after restart, want 10", h2.Len())
	}
	// It keeps recording after a restart.
	h2.record(consentFor("alice", time.Hour), "urn:lamp", "brightness", time.Now(), json.RawMessage(`99`))
	h2.Close()
	h3 := openHistory(t, dir, 0)
	if got := values(t, h3, "alice"); len(got) != 6 {
		t.Errorf("alice after a second restart: %d values, want 6", len(got))
	}
}

// TestDurableHistoryErase: after EraseSubject the subject's values are not
// in the file (its bytes are searched), nor after reopening; the others'
// values stay.
func TestDurableHistoryErase(t *testing.T) {
	dir := t.TempDir()
	h := openHistory(t, dir, 0)
	now := time.Now()
	for i := range 3 {
		h.record(consentFor("alice-7f3e", time.Hour), "urn:door", "open", now, json.RawMessage(fmt.Sprintf(`"alice-secret-%d"`, i)))
		h.record(consentFor("bob-19c2", time.Hour), "urn:door", "open", now, json.RawMessage(fmt.Sprintf(`"bob-value-%d"`, i)))
	}
	if b := fileBytes(t, dir); !bytes.Contains(b, []byte("alice-secret-2")) {
		t.Fatal("the value was never written to the file") // the check below would prove nothing
	}
	wantB := values(t, h, "bob-19c2")
	if err := h.EraseSubject(t.Context(), "alice-7f3e"); err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{"alice-secret", "alice-7f3e", "g-alice", "p-alice"} {
		if b := fileBytes(t, dir); bytes.Contains(b, []byte(needle)) {
			t.Errorf("%q still in the file after EraseSubject", needle)
		}
	}
	if got := values(t, h, "alice-7f3e"); len(got) != 0 {
		t.Errorf("erased values still returned: %q", got)
	}
	h.Close()
	if err := h.EraseSubject(t.Context(), "bob-19c2"); !errors.Is(err, ErrHistoryClosed) {
		t.Errorf("EraseSubject after Close = %v, want ErrHistoryClosed", err)
	}

	h2 := openHistory(t, dir, 0)
	if got := values(t, h2, "alice-7f3e"); len(got) != 0 {
		t.Errorf("erased values back after reopening: %q", got)
	}
	if got := values(t, h2, "bob-19c2"); !slices.Equal(got, wantB) {
		t.Errorf("bob after erase and reopen: %q, want %q", got, wantB)
	}
	if b := fileBytes(t, dir); bytes.Contains(b, []byte("alice")) || !bytes.Contains(b, []byte("bob-value-2")) {
		t.Errorf("file after reopening: %q", b)
	}
}

// TestDurableHistoryRetention: expired values leave the file at Purge, and
// values that expired while the History was closed are dropped (and leave
// the file) on opening.
func TestDurableHistoryRetention(t *testing.T) {
	dir := t.TempDir()
	h := openHistory(t, dir, 0)
	now := time.Now()
	h.record(consentFor("carol", time.Hour), "urn:t", "temp", now.Add(-2*time.Hour), json.RawMessage(`"expired-at-purge"`))
	h.record(consentFor("carol", time.Hour), "urn:t", "temp", now, json.RawMessage(`"kept"`))
	if n := h.Purge(now); n != 1 {
		t.Fatalf("Purge dropped %d, want 1", n)
	}
	if b := fileBytes(t, dir); bytes.Contains(b, []byte("expired-at-purge")) || !bytes.Contains(b, []byte(`"kept"`)) {
		t.Errorf("file after Purge: %q", b)
	}
	// This one expires before the History is opened again.
	h.record(consentFor("carol", 50*time.Millisecond), "urn:t", "temp", now, json.RawMessage(`"expired-while-closed"`))
	h.Close()
	if b := fileBytes(t, dir); !bytes.Contains(b, []byte("expired-while-closed")) {
		t.Fatal("value not written")
	}
	time.Sleep(60 * time.Millisecond)
	h2 := openHistory(t, dir, 0)
	if got := values(t, h2, "carol"); len(got) != 1 {
		t.Errorf("after reopening: %q, want only the kept value", got)
	}
	if b := fileBytes(t, dir); bytes.Contains(b, []byte("expired-while-closed")) {
		t.Error("a value that expired while closed is still in the file after opening")
	}
}

// TestDurableHistoryTornTail: a record cut short by a crash, or garbage
// after the last record, is dropped; the records before it survive and the
// file is whole again afterwards.
func TestDurableHistoryTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func([]byte) []byte
	}{
		{"cut", func(b []byte) []byte { return b[:len(b)-5] }},
		{"header only", func(b []byte) []byte { return append(b, 0x20, 0, 0) }},
		{"zeros", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }},
		{"bad checksum", func(b []byte) []byte { b[len(b)-2] ^= 0xff; return b }},
		{"huge length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, '{') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := openHistory(t, dir, 0)
			now := time.Now()
			for i := range 3 {
				h.record(consentFor("dave", time.Hour), "urn:x", "v", now.Add(time.Duration(i)), json.RawMessage(fmt.Sprint(i)))
			}
			want := values(t, h, "dave")
			h.Close()
			path := filepath.Join(dir, historyFileName)
			if err := os.WriteFile(path, tc.tear(fileBytes(t, dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			h2 := openHistory(t, dir, 0)
			got := values(t, h2, "dave")
			n := 3
			if tc.name == "cut" || tc.name == "bad checksum" {
				n = 2 // the last record itself was damaged
			}
			if !slices.Equal(got, want[:n]) {
				t.Fatalf("after reopening: %q, want %q", got, want[:n])
			}
			h2.record(consentFor("dave", time.Hour), "urn:x", "v", now.Add(time.Second), json.RawMessage(`42`))
			h2.Close()
			h3 := openHistory(t, dir, 0)
			if got := values(t, h3, "dave"); len(got) != n+1 {
				t.Fatalf("after recording past the repaired tail and reopening: %q", got)
			}
		})
	}
}

func TestDurableHistoryNotAHistoryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, historyFileName)
	orig := []byte("something else entirely")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHistory(HistoryConfig{Dir: dir}); !errors.Is(err, ErrHistoryFormat) {
		t.Fatalf("OpenHistory = %v, want ErrHistoryFormat", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		t.Fatal("a foreign file was modified")
	}
}

// TestDurableHistoryTrimmedValuesCompacted: values dropped by MaxValues do
// not make the file grow without bound.
func TestDurableHistoryTrimmedValuesCompacted(t *testing.T) {
	dir := t.TempDir()
	h := openHistory(t, dir, 2)
	now := time.Now()
	for i := range 5000 {
		h.record(consentFor("erin", time.Hour), "urn:x", "v", now.Add(time.Duration(i)), json.RawMessage(fmt.Sprint(i)))
	}
	if size := len(fileBytes(t, dir)); size > 2*compactMinDead*200 {
		t.Errorf("file holds %d bytes for 2 values", size)
	}
	h.Close()
	h2 := openHistory(t, dir, 2)
	got, _ := h2.Values(t.Context(), HistoryQuery{Subject: "erin"})
	if len(got) != 2 || string(got[0].Value) != "4998" || string(got[1].Value) != "4999" {
		t.Fatalf("after reopening: %+v", got)
	}
}

func TestNewHistoryWithDirPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHistory with Dir did not panic")
		}
	}()
	NewHistory(HistoryConfig{Dir: t.TempDir()})
}

// FuzzDecodeHistoryLog: any file contents decode without panicking to a
// readable prefix, and re-encoding what was read decodes to the same.
func FuzzDecodeHistoryLog(f *testing.F) {
	var seed []byte
	seed = append(seed, historyMagic...)
	for i := range 3 {
		seed, _ = appendHistoryRecord(seed, &historyRecord{Subject: "s", Grant: "g", Thing: "t", Property: "p",
			Time: int64(i), Expires: int64(i + 1), Value: json.RawMessage(`{"a":[1,2]}`)})
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte(historyMagic[:3]))
	f.Add([]byte("not a history file"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []historyRecord
		good, err := decodeHistoryLog(data, func(r historyRecord) { recs = append(recs, r) })
		if err != nil {
			if !errors.Is(err, ErrHistoryFormat) || len(recs) != 0 {
				t.Fatalf("error %v after %d records", err, len(recs))
			}
			return
		}
		if good < 0 || good > len(data) {
			t.Fatalf("readable prefix %d of %d bytes", good, len(data))
		}
		again := []byte(historyMagic)
		for i := range recs {
			var err error
			if again, err = appendHistoryRecord(again, &recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		var recs2 []historyRecord
		if n, err := decodeHistoryLog(again, func(r historyRecord) { recs2 = append(recs2, r) }); err != nil || n != len(again) {
			t.Fatalf("re-encoded log: %d of %d bytes, %v", n, len(again), err)
		}
		if len(recs2) != len(recs) {
			t.Fatalf("%d records, re-encoded %d", len(recs), len(recs2))
		}
	})
}

// BenchmarkHistoryRecord measures recording one value in memory and in a
// durable History (one write to the file per value, no fsync).
func BenchmarkHistoryRecord(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "memory"
		cfg := HistoryConfig{MaxValues: 1000}
		if durable {
			name, cfg.Dir = "durable", b.TempDir()
		}
		b.Run(name, func(b *testing.B) {
			h, err := OpenHistory(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			c := consentFor("guest", time.Hour)
			v := json.RawMessage(`21.5`)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				h.record(c, "urn:hearth:thermostat", "temperature", now, v)
			}
		})
	}
}
