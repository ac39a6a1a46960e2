//go:build goexperiment.jsonv2

package thing_test

// The json/v2 candidate (encoding/json/v2 and encoding/json/jsontext,
// behind GOEXPERIMENT=jsonv2 in Go 1.26; the same code as
// github.com/go-json-experiment/json) on the typical TD, beside
// BenchmarkParseTypical, without adding a dependency:
//
//	GOEXPERIMENT=jsonv2 go test -run XXX -bench 'ParseTypical|JSONv2' -cpu 1 ./thing

import (
	"bytes"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"io"
	"testing"
)

// BenchmarkJSONv2Tokens is a bare token pass with jsontext.Decoder: what a
// decoder built on it would pay before building any of the model.
func BenchmarkJSONv2Tokens(b *testing.B) {
	data := typicalTD(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := meterCPU(b)
	r := bytes.NewReader(data)
	dec := jsontext.NewDecoder(r)
	for b.Loop() {
		r.Reset(data)
		dec.Reset(r)
		for {
			if _, err := dec.ReadToken(); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "TDs/s")
	m.report("TDs")
}

// BenchmarkJSONv2Map decodes the typical TD into map[string]any with
// encoding/json/v2 (which also rejects duplicate member names), no
// validation: the json/v2 counterpart of BenchmarkEncodingJSONMap.
func BenchmarkJSONv2Map(b *testing.B) {
	data := typicalTD(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		var v map[string]any
		if err := jsonv2.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "TDs/s")
	m.report("TDs")
}
