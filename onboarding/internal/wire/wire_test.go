package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func sampleMessages() []Message {
	share := bytes.Repeat([]byte{4}, ShareSize)
	confirm := bytes.Repeat([]byte{9}, ConfirmSize)
	return []Message{
		&Hello{Versions: []byte{1}, Caps: 3, MaxMessage: 4096},
		&HelloReply{Version: 1, Caps: 1, MaxMessage: 4096, Salt: bytes.Repeat([]byte{7}, 16), Iterations: 1000},
		&PakeShare{Share: share},
		&PakeReply{Share: share, Confirm: confirm},
		&PakeConfirm{Confirm: confirm},
		&Error{Code: 2, RetryAfterMillis: 1500, HasRetryAfter: true, AttemptsLeft: 3, HasAttemptsLeft: true},
		&Error{Code: 1},
	}
}

func sampleInner() []Message {
	return []Message{
		&SetNetwork{SSID: []byte("home"), Passphrase: []byte("correct horse")},
		&SetNetwork{SSID: []byte("open")},
		&NetworkAck{},
		&GetStatus{},
		&Status{JoinState: 2, TD: []byte(`{"id":"urn:x"}`), PublicKey: []byte{1, 2, 3}},
		&Status{JoinState: 3, Reason: 1, AttemptsLeft: 2, HasAttemptsLeft: true},
		&Complete{},
		&CompleteAck{},
		&Error{Code: 7},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		got, err := Unmarshal(Marshal(m))
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got %+v, want %+v", m, got, m)
		}
	}
	for _, m := range sampleInner() {
		got, err := UnmarshalInner(MarshalInner(m))
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		// Absent optional byte fields decode as nil.
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got %+v, want %+v", m, got, m)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	hello := Marshal(&Hello{Versions: []byte{1}, MaxMessage: 100})
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version", append([]byte{2}, hello[1:]...), ErrVersion},
		{"unknown type", []byte{1, 0x7e}, ErrMalformed},
		{"sealed type in clear", []byte{1, byte(TypeSetNetwork), tagSSID, 1, 'x'}, ErrMalformed},
		{"missing field", []byte{1, byte(TypeHello)}, ErrMalformed},
		{"truncated", hello[:len(hello)-1], ErrMalformed},
		{"duplicate", append(append([]byte(nil), hello...), tagCaps, 1, 1), ErrMalformed},
		{"unknown critical", append(append([]byte(nil), hello...), 0x7f, 0), ErrMalformed},
		{"short share", Marshal(&PakeShare{Share: []byte{4, 1}}), ErrMalformed},
		{"long varint", append(append([]byte(nil), hello[:len(hello)]...), tagCaps, 11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := Unmarshal(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Optional unknown fields are skipped.
	if _, err := Unmarshal(append(append([]byte(nil), hello...), 0x90, 2, 1, 2)); err != nil {
		t.Errorf("optional field: %v", err)
	}
	if _, err := UnmarshalInner([]byte{byte(TypeHello)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("clear type sealed: %v", err)
	}
}

func TestSealedHeader(t *testing.T) {
	h := SealedHeader(0x01020304)
	msg := append(h[:], 9, 9, 9)
	hdr, seq, ct, err := ParseSealed(msg)
	if err != nil || seq != 0x01020304 || !bytes.Equal(hdr, h[:]) || !bytes.Equal(ct, []byte{9, 9, 9}) {
		t.Fatalf("ParseSealed = %x %d %x %v", hdr, seq, ct, err)
	}
	if _, _, _, err := ParseSealed(h[:4]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short: %v", err)
	}
}

func TestFragmentReassemble(t *testing.T) {
	var f Fragmenter
	var r Reassembler
	for _, mtu := range []int{20, 23, 64, 244} {
		for _, size := range []int{1, 16, 17, 18, 35, 36, 100, 1000, MaxMessage} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			frames, err := f.Fragment(msg, mtu)
			if err != nil {
				t.Fatal(err)
			}
			for i, fr := range frames {
				if len(fr) > mtu {
					t.Fatalf("frame %d is %d bytes, MTU %d", i, len(fr), mtu)
				}
				got, err := r.Push(fr)
				if err != nil {
					t.Fatalf("mtu %d size %d frame %d: %v", mtu, size, i, err)
				}
				if (got != nil) != (i == len(frames)-1) {
					t.Fatalf("mtu %d size %d: message completed at frame %d of %d", mtu, size, i, len(frames))
				}
				if got != nil && !bytes.Equal(got, msg) {
					t.Fatalf("mtu %d size %d: message corrupted", mtu, size)
				}
			}
		}
	}
}

func TestReassembleLoss(t *testing.T) {
	var f Fragmenter
	msg := bytes.Repeat([]byte("abcdefgh"), 10)
	frames, _ := f.Fragment(msg, 20)
	next, _ := f.Fragment([]byte("next"), 20)

	tests := []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"middle lost", append(append([][]byte{}, frames[:2]...), frames[3:]...), ErrFrameLost},
		{"reordered", [][]byte{frames[0], frames[2], frames[1]}, ErrFrameLost},
		{"start lost", frames[1:], ErrFrame},
		{"duplicate", [][]byte{frames[0], frames[1], frames[1]}, ErrFrameLost},
		{"empty", [][]byte{{}}, ErrFrame},
	}
	for _, tt := range tests {
		var r Reassembler
		var errs []error
		for _, fr := range tt.frames {
			if m, err := r.Push(fr); err != nil {
				errs = append(errs, err)
			} else if m != nil {
				t.Fatalf("%s: a damaged message was delivered", tt.name)
			}
		}
		if !errors.Is(errors.Join(errs...), tt.want) {
			t.Errorf("%s: errors %v, want %v", tt.name, errs, tt.want)
		}
		// The reassembler recovers at the next message.
		got, err := r.Push(next[0])
		if err != nil || string(got) != "next" {
			t.Errorf("%s: recovery = %q, %v", tt.name, got, err)
		}
	}

	// End lost: the next start drops the partial message and is counted.
	var r Reassembler
	for _, fr := range frames[:len(frames)-1] {
		r.Push(fr)
	}
	if got, err := r.Push(next[0]); err != nil || string(got) != "next" || r.Dropped != 1 {
		t.Fatalf("after lost end: %q, %v, dropped %d", got, err, r.Dropped)
	}
}

func TestReassembleLimit(t *testing.T) {
	var f Fragmenter
	frames, _ := f.Fragment(make([]byte, 500), 20)
	r := Reassembler{Limit: 100}
	if _, err := r.Push(frames[0]); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Push = %v, want ErrTooLarge", err)
	}
	if _, err := f.Fragment(make([]byte, 10), 19); !errors.Is(err, ErrMTU) {
		t.Fatalf("Fragment(mtu 19) = %v, want ErrMTU", err)
	}
	// A length that runs out before the end flag.
	bad := []byte{flagStart, 0, 2, 'a', 'b', 'c'}
	if _, err := (&Reassembler{}).Push(bad); !errors.Is(err, ErrFrame) {
		t.Fatalf("overlong frame = %v", err)
	}
}

// FuzzReassemble pushes arbitrary frames: the reassembler must never panic,
// never exceed its limit, and a message it returns must be exactly as long
// as its first frame declared. Then, whatever the frames left behind, the
// input itself, fragmented at an MTU its first byte picks, must come back
// whole: after any error the reassembler is ready for the next message.
//
// The target is deterministic and cheap (no allocation beyond the limit),
// so a failure always reproduces from the input the fuzzer saves.
func FuzzReassemble(f *testing.F) {
	const limit = 256
	sep := []byte{0xff, 0xfe}
	var fr Fragmenter
	frames, _ := fr.Fragment(bytes.Repeat([]byte{1, 2, 3}, 30), 20)
	f.Add(bytes.Join(frames, sep))
	f.Add([]byte{0xc0, 0, 1, 7})
	f.Add([]byte{0x80, 0, 5, 1, 2, 0xff, 0xfe, 0x42, 3, 4, 5})    // the last frame's counter is wrong
	f.Add([]byte{0x80, 0, 9, 1, 2, 0xff, 0xfe, 0xc1, 0, 2, 3, 4}) // a start before the end
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Reassembler{Limit: limit}
		declared := -1
		for _, frame := range bytes.Split(data, sep) {
			if len(frame) >= 3 && frame[0]&flagStart != 0 {
				declared = int(binary.BigEndian.Uint16(frame[1:3]))
			}
			msg, err := r.Push(frame)
			if err != nil && msg != nil {
				t.Fatal("message and error together")
			}
			if msg == nil {
				continue
			}
			if len(msg) > limit {
				t.Fatalf("message of %d bytes exceeds the limit", len(msg))
			}
			if len(msg) != declared {
				t.Fatalf("message of %d bytes, its first frame declared %d", len(msg), declared)
			}
		}
		if len(data) == 0 || len(data) > limit {
			return
		}
		var fr Fragmenter
		fr.counter = data[0] // any starting counter
		frames, err := fr.Fragment(data, MinMTU+int(data[0]%64))
		if err != nil {
			t.Fatal(err)
		}
		for i, frame := range frames {
			msg, err := r.Push(frame)
			last := i == len(frames)-1
			if err != nil || (msg != nil) != last {
				t.Fatalf("frame %d of %d: %d bytes, %v", i+1, len(frames), len(msg), err)
			}
			if last && !bytes.Equal(msg, data) {
				t.Fatal("reassembled message differs from the one fragmented")
			}
		}
	})
}

// FuzzUnmarshal decodes arbitrary bytes as clear and sealed messages: no
// panic, and whatever decodes re-encodes to something that decodes to the
// same message.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Marshal(m))
	}
	for _, m := range sampleInner() {
		f.Add(append([]byte{FormatVersion}, MarshalInner(m)...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := Unmarshal(b); err == nil {
			again, err := Unmarshal(Marshal(m))
			if err != nil || !reflect.DeepEqual(again, m) {
				t.Fatalf("re-decoding %T: %v", m, err)
			}
		}
		if len(b) > 0 {
			if m, err := UnmarshalInner(b[1:]); err == nil {
				again, err := UnmarshalInner(MarshalInner(m))
				if err != nil || !reflect.DeepEqual(again, m) {
					t.Fatalf("re-decoding inner %T: %v", m, err)
				}
			}
		}
		ParseSealed(b)
	})
}

func TestAdvert(t *testing.T) {
	a := Advert{MinVersion: 1, MaxVersion: 2, Discriminator: 0xabc}
	got, ok := ParseAdvert(a.Append(nil))
	if !ok || got != a {
		t.Fatalf("ParseAdvert = %+v, %v", got, ok)
	}
	for _, b := range [][]byte{nil, {2, 0, 0, 0, 1, 1}, {1, 0, 0, 0, 2, 1}} {
		if _, ok := ParseAdvert(b); ok {
			t.Errorf("ParseAdvert(%x) accepted", b)
		}
	}
}
