package secure

import (
	"bytes"
	"errors"
	"testing"
)

func pair(t *testing.T) (*Channel, *Channel) {
	t.Helper()
	key := bytes.Repeat([]byte{0x42}, 32)
	c, err := New(key, Commissioner)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(key, Device)
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

func TestRoundTrip(t *testing.T) {
	c, d := pair(t)
	for i := range 5 {
		msg, err := c.Seal([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := d.Open(msg)
		if err != nil || !bytes.Equal(pt, []byte{byte(i)}) {
			t.Fatalf("Open %d = %x, %v", i, pt, err)
		}
		reply, _ := d.Seal([]byte("ok"))
		if pt, err := c.Open(reply); err != nil || string(pt) != "ok" {
			t.Fatalf("reply %d = %q, %v", i, pt, err)
		}
	}
}

func TestRejects(t *testing.T) {
	c, d := pair(t)
	m0, _ := c.Seal([]byte("zero"))
	m1, _ := c.Seal([]byte("one"))
	m2, _ := c.Seal([]byte("two"))

	if _, err := d.Open(m1); !errors.Is(err, ErrReorder) {
		t.Fatalf("skipping ahead: %v, want ErrReorder", err)
	}
	if _, err := d.Open(m0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(m0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("retransmission: %v, want ErrDuplicate", err)
	}
	if _, err := d.Open(m1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(m0); !errors.Is(err, ErrReplay) {
		t.Fatalf("old message: %v, want ErrReplay", err)
	}

	tampered := append([]byte(nil), m2...)
	tampered[len(tampered)-1] ^= 1
	truncated := m2[:len(m2)-1]
	header := append([]byte(nil), m2...)
	header[0] = 9
	ownKey, _ := d.Seal([]byte("reflected")) // a message sealed in the other direction
	for name, m := range map[string][]byte{"tampered": tampered, "truncated": truncated, "header": header, "short": m2[:3]} {
		if _, err := d.Open(m); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v, want ErrAuth", name, err)
		}
	}
	// A message the device itself sealed carries seq 0 < next: a replay.
	if _, err := d.Open(ownKey); err == nil {
		t.Error("reflected message accepted")
	}
	// The channel is unharmed by all of that.
	if pt, err := d.Open(m2); err != nil || string(pt) != "two" {
		t.Fatalf("after rejections: %q, %v", pt, err)
	}
}

func TestWrongKey(t *testing.T) {
	c, _ := New(bytes.Repeat([]byte{1}, 32), Commissioner)
	d, _ := New(bytes.Repeat([]byte{2}, 32), Device)
	m, _ := c.Seal([]byte("x"))
	if _, err := d.Open(m); !errors.Is(err, ErrAuth) {
		t.Fatalf("%v, want ErrAuth", err)
	}
}

func TestClose(t *testing.T) {
	c, _ := pair(t)
	c.Close()
	if _, err := c.Seal(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Seal after Close: %v", err)
	}
	if _, err := c.Open(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}

func TestExhausted(t *testing.T) {
	c, _ := pair(t)
	c.sendSeq = 1 << 32
	if _, err := c.Seal(nil); !errors.Is(err, ErrExhausted) {
		t.Fatalf("%v, want ErrExhausted", err)
	}
}
