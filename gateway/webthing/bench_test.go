package webthing_test

import (
	"testing"

	"github.com/hearth-wot/hearth/gateway/webthing"
)

// Reading a property through the adapter from a remote on loopback HTTP:
// the adapter's cost plus one HTTP round trip.

func BenchmarkReadPropertyLegacy(b *testing.B) {
	srv := newLegacyServer(&testing.T{}, 0)
	defer srv.Close()
	a := webthing.New(webthing.Config{})
	defer a.Close()
	if _, err := a.Add(b.Context(), webthing.Remote{URL: srv.URL, ID: "urn:lamp"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ReadProperty(b.Context(), "urn:lamp", "brightness"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPropertyTD(b *testing.B) {
	srv := newTDServer(&testing.T{}, false)
	defer srv.Close()
	a := webthing.New(webthing.Config{})
	defer a.Close()
	if _, err := a.Add(b.Context(), webthing.Remote{URL: srv.URL + "/td", ID: "urn:lamp"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ReadProperty(b.Context(), "urn:lamp", "brightness"); err != nil {
			b.Fatal(err)
		}
	}
}
