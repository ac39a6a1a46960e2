package thing_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/thing"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// cpuMeter reports CPU time per operation and operations per CPU-second
// (what one core sustains), alongside the usual wall-clock ns/op.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func meterCPU(b *testing.B) *cpuMeter { return &cpuMeter{b: b, start: processCPU()} }

func (m *cpuMeter) report(unit string) {
	used := processCPU() - m.start
	if used <= 0 || m.b.N == 0 {
		return
	}
	perOp := float64(used.Nanoseconds()) / float64(m.b.N)
	m.b.ReportMetric(perOp, "cpu-ns/op")
	m.b.ReportMetric(1e9/perOp, unit+"/cpu-s")
}

func typicalTD(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/typical.json")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkParseTypical parses and validates a typical TD: 40 properties,
// 60 forms, about 13.6 KB.
func BenchmarkParseTypical(b *testing.B) {
	data := typicalTD(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		if _, err := thing.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "TDs/s")
	m.report("TDs")
}

// BenchmarkEncodingJSONMap is the baseline: encoding/json into a generic
// map, no validation.
func BenchmarkEncodingJSONMap(b *testing.B) {
	data := typicalTD(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "TDs/s")
	m.report("TDs")
}

// officialSchemaExt compiles the official TD 1.1 JSON Schema with
// santhosh-tekuri/jsonschema (the comparison point), or skips.
func officialSchemaExt(b *testing.B) *jsonschema.Schema {
	root := sharedWoT(b)
	f, err := os.Open(filepath.Join(root, "schema", "td11-rec-td-json-schema-validation.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		b.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///td-schema.json", doc); err != nil {
		b.Fatal(err)
	}
	sch, err := c.Compile("file:///td-schema.json")
	if err != nil {
		b.Fatal(err)
	}
	return sch
}

// BenchmarkJSONSchemaTypical validates the typical TD with the official
// JSON Schema through santhosh-tekuri/jsonschema/v6 (decoding included, as
// Parse includes it). Compare with BenchmarkParseTypical.
func BenchmarkJSONSchemaTypical(b *testing.B) {
	sch := officialSchemaExt(b)
	data := typicalTD(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "TDs/s")
	m.report("TDs")
}

// corpusBytes returns every TD that must be accepted (valid, notValidYet,
// warn), for the whole-corpus benchmarks.
func corpusBytes(b *testing.B) [][]byte {
	root := sharedWoT(b)
	var docs [][]byte
	for _, folder := range []string{"valid", "notValidYet", "warn"} {
		for _, data := range corpusFiles(b, filepath.Join(root, "corpus", folder)) {
			docs = append(docs, data)
		}
	}
	return docs
}

// BenchmarkParseCorpus parses and validates every acceptable corpus TD
// (62 documents, one op = the whole corpus).
func BenchmarkParseCorpus(b *testing.B) {
	docs := corpusBytes(b)
	var n int64
	for _, d := range docs {
		n += int64(len(d))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		for _, d := range docs {
			if _, err := thing.Parse(d); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "TDs/s")
	m.report("corpora")
}

// BenchmarkJSONSchemaCorpus is BenchmarkParseCorpus with the JSON Schema
// library.
func BenchmarkJSONSchemaCorpus(b *testing.B) {
	sch := officialSchemaExt(b)
	docs := corpusBytes(b)
	var n int64
	for _, d := range docs {
		n += int64(len(d))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	m := meterCPU(b)
	for b.Loop() {
		for _, d := range docs {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(d))
			if err != nil {
				b.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "TDs/s")
	m.report("corpora")
}

// BenchmarkValidateScalar checks a property write of a number (raw JSON
// body) against a compiled schema: the gateway's hot path.
func BenchmarkValidateScalar(b *testing.B) {
	s := thing.MustCompile(thing.Integer().Range(0, 100).Unit("percent").Schema())
	body := []byte(`42`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateScalarEnum checks a string against an enum.
func BenchmarkValidateScalarEnum(b *testing.B) {
	s := thing.MustCompile(thing.String().Enum("idle", "running", "error").Schema())
	body := []byte(`"running"`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateScalarValue checks an already-decoded value.
func BenchmarkValidateScalarValue(b *testing.B) {
	s := thing.MustCompile(thing.Number().Range(-40, 125).Schema())
	var v any = 21.5
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateObject checks an action input object.
func BenchmarkValidateObject(b *testing.B) {
	s := thing.MustCompile(thing.Object().
		Prop("level", thing.Integer().Range(0, 100)).
		Prop("seconds", thing.Number().Min(0)).
		Prop("mode", thing.String().Enum("linear", "ease")).
		Required("level").Schema())
	body := []byte(`{"level": 80, "seconds": 2.5, "mode": "ease"}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
