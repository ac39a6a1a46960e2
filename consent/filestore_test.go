package consent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func writeStore(t *testing.T, path string, recs ...string) {
	t.Helper()
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := s.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func storeRecords(t *testing.T, path string) ([]string, error) {
	t.Helper()
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []string
	for r, err := range s.Records(context.Background()) {
		if err != nil {
			return nil, err
		}
		out = append(out, string(r))
	}
	return out, nil
}

func TestFileStoreTornTail(t *testing.T) {
	recs := []string{"one", "two", "three"}
	tails := map[string]func(full []byte) []byte{
		"partial header":   func(b []byte) []byte { return append(b, "HRE"...) },
		"partial payload":  func(b []byte) []byte { return append(b, appendFrame(nil, []byte("four-four"))[:15]...) },
		"zeros":            func(b []byte) []byte { return append(b, make([]byte, 4096)...) },
		"bad checksum":     func(b []byte) []byte { f := appendFrame(nil, []byte("four")); f[len(f)-1] ^= 1; return append(b, f...) },
		"garbage":          func(b []byte) []byte { return append(b, "\x13\x37garbage"...) },
		"half last record": func(b []byte) []byte { return b[:len(b)-2] },
	}
	for name, tear := range tails {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			writeStore(t, path, recs...)
			full := readFile(t, path)
			if err := os.WriteFile(path, tear(bytes.Clone(full)), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, err := OpenFileStore(path, FileStoreOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("open after torn tail: %v", err)
			}
			s.Close()
			got, err := storeRecords(t, path)
			if err != nil {
				t.Fatal(err)
			}
			want := recs
			if name == "half last record" {
				want = recs[:2]
			}
			if len(got) != len(want) {
				t.Fatalf("records %q, want %q", got, want)
			}
			if !bytes.Contains(logs.Bytes(), []byte("torn tail")) {
				t.Error("truncation not logged")
			}
			// The file was truncated to the intact prefix, and appends work.
			writeStore(t, path, "four")
			got, _ = storeRecords(t, path)
			if got[len(got)-1] != "four" || len(got) != len(want)+1 {
				t.Errorf("after append: %q", got)
			}
		})
	}
}

func TestFileStoreCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var recs []string
	for i := range 50 {
		recs = append(recs, string(bytes.Repeat([]byte{'a' + byte(i%26)}, 100)))
	}
	writeStore(t, path, recs...)
	orig := readFile(t, path)
	for _, off := range []int{len(fileHeader) + 1, len(fileHeader) + 5, len(fileHeader) + 9, len(orig) / 2, len(orig) - 200} {
		b := bytes.Clone(orig)
		b[off] ^= 0x40
		os.WriteFile(path, b, 0o600)
		_, err := OpenFileStore(path, FileStoreOptions{})
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: err = %v", off, err)
		}
		if ce.Offset > int64(off) || ce.Path != path {
			t.Errorf("byte %d flipped: reported at %d in %s", off, ce.Offset, ce.Path)
		}
		// Nothing was truncated.
		if got := readFile(t, path); !bytes.Equal(got, b) {
			t.Errorf("byte %d flipped: file changed by the failed open", off)
		}
	}
	// A bad header is not a consent store.
	b := bytes.Clone(orig)
	b[0] = 'X'
	os.WriteFile(path, b, 0o600)
	if _, err := OpenFileStore(path, FileStoreOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad header: %v", err)
	}
}

func TestFileStoreLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileStore(path, FileStoreOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v", err)
	}
	s.Close()
	s, err = OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s.Close()
}

func TestFileStoreRecordTooLarge(t *testing.T) {
	s, err := OpenFileStore(filepath.Join(t.TempDir(), "c.log"), FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("oversized record: %v", err)
	}
}

// TestLedgerRefusesCorruptStore checks that the ledger will not open on a
// store whose records do not decode, rather than serve partial state.
func TestLedgerRefusesCorruptStore(t *testing.T) {
	for _, rec := range []string{`not json`, `{"ops":[]}`, `{"ops":[{"k":"mystery"}]}`, `{"ops":[{"k":"revoke","id":"nope"}]}`, `{"ops":[{"k":"audit","entry":"e30="}]}`, `{"ops":[{"k":"grant","grant":{"id":"g"}}]}`} {
		m := NewMemoryStore()
		m.Append([]byte(rec))
		if _, err := New(context.Background(), Config{Store: m}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("record %s: %v", rec, err)
		}
	}
}
