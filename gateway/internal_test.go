package gateway

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

func TestSendQueueCoalesces(t *testing.T) {
	var q sendQueue
	q.init(3)
	prop := func(name, v string) *outMsg { return &outMsg{kind: msgProperty, name: name, value: json.RawMessage(v)} }
	ev := func(name string) *outMsg { return &outMsg{kind: msgEvent, name: name} }
	for i, m := range []*outMsg{prop("a", "1"), prop("b", "1"), prop("a", "2"), prop("a", "3"), ev("e")} {
		if !q.push(m) {
			t.Fatalf("push %d refused", i)
		}
	}
	got := q.take(nil)
	var s []string
	for _, m := range got {
		s = append(s, m.name+"="+string(m.value))
	}
	if !slices.Equal(s, []string{"a=3", "b=1", "e="}) {
		t.Fatalf("queue %v, want a coalesced to its newest value", s)
	}
	// Full: events do not coalesce, and the consumer is behind.
	for range 3 {
		q.push(ev("e"))
	}
	if q.push(ev("e")) {
		t.Fatal("push to a full queue accepted")
	}
	// A property already waiting still coalesces into a full queue? No:
	// its slot is taken by events; a new property is refused.
	if q.push(prop("c", "1")) {
		t.Fatal("new property pushed into a full queue")
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	s, err := New(Config{SendQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := &entry{id: "x", streams: map[*stream]struct{}{}}
	st := s.newStream(e, streamAllEvents, "", &caller{}, origin{})
	for range 2 {
		st.offer(&outMsg{kind: msgEvent, name: "e"})
	}
	select {
	case <-st.done:
		t.Fatal("closed before overflowing")
	default:
	}
	st.offer(&outMsg{kind: msgEvent, name: "e"})
	select {
	case <-st.done:
	default:
		t.Fatal("a consumer that stays behind is not disconnected")
	}
	if st.code != closeTryLater {
		t.Fatalf("close code %d", st.code)
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"/", nil, true},
		{"", nil, true},
		{"/things/", []string{"things"}, true},
		{"/things/a%2Fb/properties", []string{"things", "a/b", "properties"}, true},
		{"/things/urn:x:y", []string{"things", "urn:x:y"}, true},
		{"/things//x", nil, false},
		{"/things/%zz", nil, false},
		{"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", nil, false},
	} {
		got, ok := splitPath(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("splitPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

var fuzzSchema = thing.MustCompile(&thing.DataSchema{Type: "object",
	Properties: map[string]*thing.DataSchema{"n": {Type: "integer", Minimum: ptr(0.0), Maximum: ptr(10.0)}},
	Required:   []string{"n"}})

func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{"n": 3}`, `{"n": 11}`, `{}`, `3`, `{"n": 1, "n": 2}`, ` {"n":1} `, `{"n":1}x`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := decodeValue(raw, fuzzSchema)
		if err != nil {
			if !errors.Is(err, thing.ErrInvalidValue) && !errors.Is(err, errBadBody) {
				t.Fatalf("error %v is neither a bad value nor a bad body", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		if err := fuzzSchema.Validate(v); err != nil {
			t.Fatalf("accepted %q which fails its schema: %v", raw, err)
		}
	})
}

func FuzzDecodeLegacyActions(f *testing.F) {
	for _, s := range []string{`{"fade": {"input": {"n": 1}}}`, `{"fade": {}}`, `{"a": {}, "b": {"input": null}}`, `{}`, `{"fade": 1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		reqs, err := decodeLegacyActions(raw)
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("error %v does not wrap errBadBody", err)
			}
			return
		}
		if !json.Valid(raw) || len(reqs) == 0 {
			t.Fatalf("accepted %q as %d requests", raw, len(reqs))
		}
		for _, r := range reqs {
			if r.hasInput && !json.Valid(r.input) {
				t.Fatalf("invalid input %q", r.input)
			}
		}
	})
}

func FuzzDecodeLegacyProperty(f *testing.F) {
	for _, s := range []string{`{"on": true}`, `{"off": 1}`, `{"on": true, "on": false}`, `true`, `{"on":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := decodeLegacyProperty("on", raw)
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("error %v does not wrap errBadBody", err)
			}
			return
		}
		if !json.Valid(raw) || !json.Valid(v) {
			t.Fatalf("accepted %q giving %q", raw, v)
		}
	})
}

func FuzzDecodeWSMessage(f *testing.F) {
	for _, s := range []string{
		`{"messageType":"setProperty","data":{"brightness":10}}`,
		`{"messageType":"requestAction","data":{"fade":{"input":{"brightness":90,"duration":1000}}}}`,
		`{"messageType":"addEventSubscription","data":{"overheated":{}}}`,
		`{"messageType":1,"data":{}}`, `{"data":{}}`, `{"messageType":"x","data":[]}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := decodeWSMessage(raw)
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("error %v does not wrap errBadBody", err)
			}
			return
		}
		if !json.Valid(raw) || msg.Data == nil {
			t.Fatalf("accepted %q", raw)
		}
		for k, v := range msg.Data {
			if !json.Valid(v) {
				t.Fatalf("member %q holds invalid JSON %q", k, v)
			}
		}
	})
}

// TestRevokedSince: a stream is refused when a revocation after its
// Authorize call concerns its grant or token, and when more revocations
// happened meanwhile than the set remembers.
func TestRevokedSince(t *testing.T) {
	var ss streamSet
	ss.init()
	d := access.Decision{GrantID: "g", TokenID: "t"}
	start := ss.gen.Load()
	ss.revoke(access.Revocation{GrantID: "other"})
	ss.revoke(access.Revocation{GrantID: "g", TokenID: "t2"}) // another token of g
	if ss.revokedSince(start, &d) {
		t.Fatal("refused for revocations of other grants and tokens")
	}
	ss.revoke(access.Revocation{GrantID: "g", TokenID: "t"})
	if !ss.revokedSince(start, &d) {
		t.Fatal("not refused after its token was revoked")
	}
	if ss.revokedSince(ss.gen.Load(), &d) {
		t.Fatal("refused for a revocation before its Authorize call")
	}
	start = ss.gen.Load()
	for range revocationMemory + 1 {
		ss.revoke(access.Revocation{GrantID: "other"})
	}
	if !ss.revokedSince(start, &d) {
		t.Fatal("not refused after more revocations than remembered")
	}
}
