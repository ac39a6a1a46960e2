package thing

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fast paths of Parse must not change what it reports: the quick
// validation pass must find a violation exactly when the full pass
// reports one, and error paths rebuilt from input offsets must name the
// same members as before.

// quickAgrees decodes data without validating it and reports whether the
// quick pass and the full pass agree on it.
func quickAgrees(t *testing.T, data []byte) {
	t.Helper()
	var td Description
	_ = td.UnmarshalJSON(data) // decoding problems are not the point here
	full := validator{}
	full.description(&td)
	quick := validator{quick: true}
	quick.description(&td)
	if quick.failed != (len(full.errs) > 0) {
		t.Fatalf("quick pass says failed=%v, full pass reports %d errors (%v)\n%s", quick.failed, len(full.errs), full.err(), data)
	}
}

func TestQuickValidationAgrees(t *testing.T) {
	docs := [][]byte{
		[]byte(`{}`),
		[]byte(`{"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "T", "securityDefinitions": {"s": {"scheme": "nosec"}}, "security": "s"}`),
		[]byte(`{"@context": "https://www.w3.org/2022/wot/td/v1.1", "@type": "tm:ThingModel", "title": "T", "securityDefinitions": {"s": {"scheme": "nosec"}}, "security": "s"}`),
		[]byte(`{"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "T", "securityDefinitions": {"s": {"scheme": "nosec"}}, "security": "s",
			"properties": {"p": {"type": "strin", "forms": [{"href": "x", "op": "invokeaction"}]}}}`),
		[]byte(`{"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "T", "securityDefinitions": {"s": {"scheme": "nosec"}}, "security": "s",
			"actions": {"a": {"forms": [{"href": "x", "security": "nope"}]}}}`),
	}
	if data, err := os.ReadFile("testdata/typical.json"); err == nil {
		docs = append(docs, data)
	} else {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "shared", "wot", "corpus")
	if d, ok := os.LookupEnv("HEARTH_WOT_DIR"); ok {
		root = filepath.Join(d, "corpus")
	}
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".json") {
			if data, err := os.ReadFile(p); err == nil {
				docs = append(docs, data)
			}
		}
		return nil
	})
	if len(docs) < 10 {
		t.Logf("W3C WoT corpus not found under %s; checking %d built-in documents only", root, len(docs))
	}
	for _, data := range docs {
		quickAgrees(t, data)
	}

	// A cyclic schema built in Go stops at the depth limit in both passes.
	s := &DataSchema{Type: "array"}
	s.Items = s
	td := Description{Title: "T", SchemaDefinitions: map[string]*DataSchema{"loop": s}}
	quick := validator{quick: true}
	quick.description(&td)
	if !quick.failed {
		t.Fatal("quick pass accepted a cyclic schema")
	}
}

// FuzzQuickValidation: on any document, the quick validation pass finds a
// violation exactly when the full pass reports one.
func FuzzQuickValidation(f *testing.F) {
	if data, err := os.ReadFile("testdata/typical.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"properties": {"p": {"type": "x", "readOnly": true, "forms": [{"href": "a", "op": ["writeproperty"]}]}}}`))
	f.Add([]byte(`{"securityDefinitions": {"c": {"scheme": "combo", "oneOf": ["c"]}}, "security": ["c"], "links": [{"href": "a", "rel": "type"}, {"href": "b", "rel": "type"}]}`))
	f.Fuzz(quickAgrees)
}

// TestErrorPathsFromOffsets checks error paths through escaped member
// names, arrays and skipped extension values, which the decoder renders
// from input offsets only when it reports an error.
func TestErrorPathsFromOffsets(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want []string
	}{
		{`{"x:e": {"a\u0062": [1, {"c": 1, "c": 2}]}}`, []string{"/x:e/ab/1/c"}},
		{`{"properties": {"p\u007e": {"forms": [{"href": "a"}, 5]}}}`, []string{"/properties/p~0/forms/1"}},
		{`{"actions": {"a": {"input": {"properties": {"q\"r": {"minLength": 1.5}}}}}}`, []string{"/actions/a/input/properties/q\"r/minLength"}},
		{`{"links": [{"href": "a"}, {"rel": "x"}], "links": []}`, []string{"/links", "/links/1/href"}},
	} {
		d := newDecoder([]byte(c.doc))
		d.strict = true
		var td Description
		if err := d.run(func() { d.description(&td) }); err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		var got []string
		for _, e := range d.errs {
			got = append(got, e.(*ValidationError).Path)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: paths %q, want %q", c.doc, got, c.want)
		}
	}
}
