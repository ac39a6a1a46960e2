package webthing

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// Fuzz targets for everything the adapter parses from a remote.

func FuzzParseDescriptions(f *testing.F) {
	f.Add([]byte(`{"id":"urn:x","title":"Lamp","@context":"https://webthings.io/schemas","@type":["Light"],
		"properties":{"on":{"type":"boolean","links":[{"rel":"property","href":"/properties/on"}]}},
		"actions":{"fade":{"input":{"type":"object"},"links":[{"href":"/actions/fade"}]}},
		"events":{"overheated":{"type":"number","unit":"degree celsius"}},
		"links":[{"rel":"alternate","href":"ws://h/"}]}`))
	f.Add([]byte(`[{"title":"A","href":"/0"},{"title":"B","href":"/1","properties":{"x":{"forms":[{"href":"x"}]}}}]`))
	f.Add([]byte(`{"@context":["https://www.w3.org/2022/wot/td/v1.1",{"x":"y"}],"title":"T","base":"http://h/",
		"securityDefinitions":{"n":{"scheme":"nosec"}},"security":"n",
		"properties":{"p":{"type":"integer","observable":true,"forms":[{"href":"p"},{"href":"p/sse","op":"observeproperty","subprotocol":"sse"}]}},
		"events":{"e":{"forms":[{"href":"e","subprotocol":"sse"}]}},
		"forms":[{"href":"all","op":"observeallproperties","subprotocol":"sse"}]}`))
	f.Add([]byte(`{"title":"x","base":"::"}`))
	f.Add([]byte(`{"@context":"https://www.w3.org/2019/wot/td/v1","title":"x","properties":{"p":{"forms":[{"href":"{?a}"}]}}}`))
	doc, _ := url.Parse("http://127.0.0.1:8888/things/lamp")
	a := New(Config{})
	defer a.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, style := range []Style{StyleAuto, StyleTD, StyleLegacy} {
			rs, err := parseDescriptions(data, doc, style)
			if err != nil {
				continue
			}
			for _, r := range rs {
				if r.local == nil || cloneTD(r.local) == nil {
					t.Fatal("parsed remote without a local description")
				}
				if r.style == StyleTD {
					a.tdStreams(r) // resolves every SSE form
				}
				for name, u := range r.props {
					if u.Scheme != "http" && u.Scheme != "https" {
						t.Fatalf("property %q resolved to %v", name, u)
					}
				}
			}
		}
	})
}

type nopSink struct{ n int }

func (s *nopSink) PropertyChanged(string, string, any) { s.n++ }
func (s *nopSink) Event(string, string, any)           { s.n++ }
func (s *nopSink) ThingAdded(*thing.Description)       {}
func (s *nopSink) ThingRemoved(string)                 {}

func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"messageType":"propertyStatus","data":{"on":true,"level":3}}`))
	f.Add([]byte(`{"messageType":"event","data":{"overheated":{"data":102,"timestamp":"2026-01-01T00:00:00+00:00"}}}`))
	f.Add([]byte(`{"messageType":"actionStatus","data":{"fade":{"status":"pending"}}}`))
	f.Add([]byte(`{"messageType":"error","data":{"status":"400 Bad Request"}}`))
	f.Add([]byte(`{"messageType":"event","data":{"overheated":5}}`))
	r := &remote{id: "lamp", props: map[string]*url.URL{"on": {}, "level": {}},
		local: &thing.Description{Events: map[string]*thing.Event{"overheated": {}}}}
	a := New(Config{})
	defer a.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := decodeMessage(data)
		if err == nil && msg.Type == "" {
			t.Fatal("decoded a message without a type")
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("error %v is not a protocol error", err)
		}
		s := &nopSink{}
		a.handleMessage(r, data, s)
		if err != nil && s.n > 0 {
			t.Fatal("a malformed message was delivered")
		}
	})
}

func FuzzSSE(f *testing.F) {
	f.Add([]byte("data: 1\n\n"), 64)
	f.Add([]byte("event: on\r\ndata: true\r\n\r\n: comment\n\nid: 7\ndata: {\"a\":\ndata: 1}\n\n"), 64)
	f.Add([]byte("data\rdata:x\r\r"), 8)
	f.Add([]byte(strings.Repeat("data: xxxxxxxx\n", 20)+"\n"), 32)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 64
		}
		rd := newSSEReader(bytes.NewReader(data), max)
		for range 1000 {
			ev, err := rd.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(ev.Data) > max || len(ev.Event) > max {
				t.Fatalf("event larger than %d: %d bytes", max, len(ev.Data))
			}
		}
	})
}

func FuzzBodies(f *testing.F) {
	f.Add([]byte(`{"on": true}`))
	f.Add([]byte(`{"fade": {"href": "/actions/fade/1", "status": "pending"}}`))
	f.Add([]byte(`{"status": "completed", "output": {"x": 1}}`))
	f.Add([]byte(`{"status": "failed", "error": "boom"}`))
	f.Add([]byte(`1 2`))
	r := &remote{id: "x"}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"on", "fade"} {
			if raw, err := unwrap(data, name); err == nil {
				decodeJSON(raw)
			}
			decodeLegacyAction(data, name)
		}
		if st, err := decodeActionStatus(data); err == nil {
			if _, err := st.result(r, "a"); err != nil && !errors.Is(err, ErrActionFailed) && !errors.Is(err, ErrProtocol) {
				t.Fatalf("result error %v", err)
			}
		}
		if v, err := decodeJSON(data); err == nil {
			_ = v
		} else if !errors.Is(err, ErrProtocol) {
			t.Fatalf("decodeJSON error %v", err)
		}
	})
}
