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

// FuzzDecodeErrorPaths: every path the decoder reports (rebuilt from input
// offsets) names a value that is in the document, except for members
// reported as missing.
func FuzzDecodeErrorPaths(f *testing.F) {
	if data, err := os.ReadFile("testdata/typical.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"x:e": {"a\u0062": [1, {"c": 1, "c": 2}]}, "properties": {"p\u002f": {"type": 5, "forms": [{}, 1]}}}`))
	f.Add([]byte(`{"actions": {"a": {"input": {"properties": {"q": {"minLength": 1.5, "enum": {}}}}, "safe": "no"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newDecoder(data)
		d.strict = true
		var td Description
		if d.run(func() { d.description(&td) }) != nil {
			return // not JSON: no paths
		}
		tr := newDecoder(data)
		var root *node
		if tr.run(func() { root = tr.tree() }) != nil {
			t.Fatal("the tree decoder rejects what the model decoder accepts")
		}
		for _, e := range d.errs {
			ve := e.(*ValidationError)
			if ve.Msg == "is required" {
				continue
			}
			if root.lookup(ve.Path) == nil {
				t.Fatalf("error %q: path %q names nothing in\n%s", ve.Msg, ve.Path, data)
			}
		}
	})
}
