package thing

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
		root, err := jsonTree(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
		if err != nil {
			t.Fatalf("encoding/json rejects what the decoder accepts: %v", err)
		}
		for _, e := range d.errs {
			ve := e.(*ValidationError)
			if ve.Msg == "is required" {
				continue
			}
			if !root.has(ve.Path) {
				t.Fatalf("error %q: path %q names nothing in\n%s", ve.Msg, ve.Path, data)
			}
		}
	})
}

// jnode is a JSON value that keeps every member of an object, duplicates
// included, so that a path through either of two duplicates resolves.
type jnode struct {
	members []jmember
	elems   []*jnode
}

type jmember struct {
	key string
	val *jnode
}

// jsonTree decodes data with encoding/json's tokenizer, independently of
// the package's own scanner.
func jsonTree(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // any number JSON allows, 1e700 included
	var build func() (*jnode, error)
	build = func() (*jnode, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		n := &jnode{}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := build()
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, jmember{k.(string), v})
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				v, err := build()
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			_, err = dec.Token()
		}
		return n, err
	}
	return build()
}

// has reports whether the JSON pointer ptr names a value in n, through
// any of the members that share a name.
func (n *jnode) has(ptr string) bool {
	if ptr == "" {
		return true
	}
	if ptr[0] != '/' {
		return false
	}
	tok, rest, _ := strings.Cut(ptr[1:], "/")
	if rest != "" || strings.HasSuffix(ptr[1:], "/") {
		rest = "/" + rest
	}
	tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	for _, m := range n.members {
		if m.key == tok && m.val.has(rest) {
			return true
		}
	}
	if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.elems) && tok == strconv.Itoa(i) {
		return n.elems[i].has(rest)
	}
	return false
}
