package thing

import (
	"os"
	"testing"
)

// Internal benchmarks that split Parse into its two passes.

func BenchmarkDecodeTypical(b *testing.B) {
	data, err := os.ReadFile("testdata/typical.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		t := new(Description)
		d := newDecoder(data)
		d.strict = true
		if err := d.run(func() { d.description(t) }); err != nil || len(d.errs) > 0 {
			b.Fatal(err, d.errs)
		}
	}
}

func BenchmarkValidateTypical(b *testing.B) {
	data, err := os.ReadFile("testdata/typical.json")
	if err != nil {
		b.Fatal(err)
	}
	td, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := td.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanTypical is the bare token pass (syntax, UTF-8, duplicate
// member names) with no model: the counterpart of a jsontext.Decoder
// ReadToken loop.
func BenchmarkScanTypical(b *testing.B) {
	data, err := os.ReadFile("testdata/typical.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := newDecoder(data)
		if err := d.run(d.skip); err != nil || len(d.errs) > 0 {
			b.Fatal(err, d.errs)
		}
	}
}
