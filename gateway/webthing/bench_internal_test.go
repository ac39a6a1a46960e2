package webthing

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

func BenchmarkHandleMessage(b *testing.B) {
	r := &remote{id: "lamp", props: map[string]*url.URL{"on": {}, "brightness": {}},
		local: &thing.Description{Events: map[string]*thing.Event{"overheated": {}}}}
	a := New(Config{})
	defer a.Close()
	msg := []byte(`{"messageType":"propertyStatus","data":{"brightness":42}}`)
	s := &nopSink{}
	b.ReportAllocs()
	for b.Loop() {
		a.handleMessage(r, msg, s)
	}
}

func BenchmarkSSEReader(b *testing.B) {
	stream := strings.Repeat("event: brightness\ndata: 42\n\n", 1000)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		rd := newSSEReader(bytes.NewReader([]byte(stream)), 1<<16)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
