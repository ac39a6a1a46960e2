package thing_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

const minimalTD = `{
	"@context": "https://www.w3.org/2022/wot/td/v1.1",
	"title": "T",
	"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
	"security": "nosec_sc"
}`

// withMembers returns minimalTD with extra top-level members spliced in.
func withMembers(members string) []byte {
	return []byte(strings.TrimSuffix(strings.TrimSpace(minimalTD), "}") + "," + members + "}")
}

// TestCorpusRoundTrip checks that parse → marshal keeps every member of
// every valid corpus document (compared as generic JSON) and that a second
// round trip is byte-for-byte stable.
func TestCorpusRoundTrip(t *testing.T) {
	root := sharedWoT(t)
	for _, folder := range []string{"valid", "notValidYet", "warn"} {
		for name, data := range corpusFiles(t, filepath.Join(root, "corpus", folder)) {
			t.Run(folder+"/"+name, func(t *testing.T) {
				td, err := thing.Parse(data)
				if err != nil {
					t.Fatal(err)
				}
				out, err := json.Marshal(td)
				if err != nil {
					t.Fatal(err)
				}
				var want, got any
				if err := json.Unmarshal(data, &want); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(want, got) {
					t.Errorf("round trip changed the document:\nin:  %s\nout: %s", compact(data), out)
				}
				td2, err := thing.Parse(out)
				if err != nil {
					t.Fatalf("re-parse: %v", err)
				}
				out2, _ := json.Marshal(td2)
				if !bytes.Equal(out, out2) {
					t.Errorf("second round trip differs:\n%s\n%s", out, out2)
				}
			})
		}
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.Bytes()
}

func TestExtensionsSurvive(t *testing.T) {
	data := []byte(`{
		"@context": ["https://www.w3.org/2022/wot/td/v1.1", {"saref": "https://w3id.org/saref#", "@language": "en"}],
		"@type": ["saref:LightSwitch"],
		"title": "T",
		"saref:vendor": {"name": "ACME", "nested": [1, 2.5, {"x": null}]},
		"securityDefinitions": {"ace_sc": {"scheme": "ace:ACESecurityScheme", "ace:as": "coaps://as.example.com/token", "ace:cnonce": true}},
		"security": ["ace_sc"],
		"version": {"instance": "1.0", "x:build": 7},
		"properties": {
			"on": {
				"type": "boolean",
				"saref:hasState": "on",
				"readOnly": false,
				"forms": [{"href": "on", "htv:methodName": "GET", "mqv:topic": "lamp/on", "op": ["readproperty"],
				           "response": {"contentType": "application/json", "x:y": 1},
				           "additionalResponses": [{"success": false, "schema": "err", "x:z": "q"}]}]
			}
		},
		"schemaDefinitions": {"err": {"type": "string", "x:a": [true]}},
		"links": [{"href": "x", "rel": "icon", "sizes": "16x16", "x:l": {}}]
	}`)
	td, err := thing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]json.RawMessage{
		"root":     td.Extensions["saref:vendor"],
		"scheme":   td.SecurityDefinitions["ace_sc"].Extensions["ace:cnonce"],
		"version":  td.Version.Extensions["x:build"],
		"property": td.Properties["on"].Extensions["saref:hasState"],
		"form":     td.Properties["on"].Forms[0].Extensions["mqv:topic"],
		"response": td.Properties["on"].Forms[0].Response.Extensions["x:y"],
		"addresp":  td.Properties["on"].Forms[0].AdditionalResponses[0].Extensions["x:z"],
		"schema":   td.SchemaDefinitions["err"].Extensions["x:a"],
		"link":     td.Links[0].Extensions["x:l"],
	}
	for where, raw := range checks {
		if raw == nil {
			t.Errorf("%s: extension lost", where)
		}
	}
	if got := string(td.Extensions["saref:vendor"]); got != `{"name": "ACME", "nested": [1, 2.5, {"x": null}]}` {
		t.Errorf("extension not verbatim: %s", got)
	}
	out, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal(data, &want)
	json.Unmarshal(out, &got)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("round trip lost something:\n%s", out)
	}
	// String-or-array forms are kept: "@type" and "security" were arrays.
	if !bytes.Contains(out, []byte(`"@type":["saref:LightSwitch"]`)) || !bytes.Contains(out, []byte(`"security":["ace_sc"]`)) {
		t.Errorf("array form lost: %s", out)
	}
}

func TestDuplicateMembers(t *testing.T) {
	cases := map[string]string{
		"root":       `"title": "again"`,
		"extension":  `"x:a": 1, "x:a": 2`,
		"nested ext": `"x:a": {"b": 1, "b": 2}`,
		"properties": `"properties": {"p": {"forms": [{"href": "a"}]}, "p": {"forms": [{"href": "b"}]}}`,
		"form":       `"properties": {"p": {"forms": [{"href": "a", "href": "b"}]}}`,
		"schema":     `"properties": {"p": {"type": "string", "type": "number", "forms": [{"href": "a"}]}}`,
		"const":      `"properties": {"p": {"const": {"a": 1, "a": 1}, "forms": [{"href": "a"}]}}`,
		"context":    `"@context": ["https://www.w3.org/2022/wot/td/v1.1", {"a": "x", "a": "y"}]`,
		"titles":     `"titles": {"en": "a", "en": "b"}`,
		"scheme":     `"securityDefinitions": {"a": {"scheme": "basic", "in": 5, "in": "header"}}`,
	}
	for name, members := range cases {
		t.Run(name, func(t *testing.T) {
			data := withMembers(members)
			if name == "context" || name == "scheme" {
				// replace the member rather than repeat a known one at the root
				data = []byte(strings.Replace(string(data), `"@context": "https://www.w3.org/2022/wot/td/v1.1",`, "", 1))
				data = []byte(strings.Replace(string(data), `"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},`, "", 1))
				if name == "context" {
					data = []byte(strings.Replace(string(data), `"security": "nosec_sc"`, `"security": "nosec_sc", "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}}`, 1))
				} else {
					data = []byte(strings.Replace(string(data), `"security": "nosec_sc"`, `"security": "a", "@context": "https://www.w3.org/2022/wot/td/v1.1"`, 1))
				}
			}
			_, err := thing.Parse(data)
			var ve *thing.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("duplicate not reported: %v\n%s", err, data)
			}
			if !errors.Is(err, thing.ErrDuplicateMember) {
				t.Errorf("no duplicate-member error among: %v", err)
			}
		})
	}
}

func TestCaseSensitiveTerms(t *testing.T) {
	// "Title" is not "title": it is an extension, and the TD lacks a title.
	data := []byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"Title": "T",
		"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
		"security": "nosec_sc"
	}`)
	_, err := thing.Parse(data)
	var ve *thing.ValidationError
	if !errors.As(err, &ve) || ve.Path != "/title" {
		t.Fatalf("want a /title error, got %v", err)
	}
	var td thing.Description
	if err := json.Unmarshal(data, &td); err != nil {
		t.Fatal(err)
	}
	if td.Title != "" || td.Extensions["Title"] == nil {
		t.Errorf("Title matched case-insensitively: %+v", td)
	}
}

func TestBOM(t *testing.T) {
	data := append([]byte{0xEF, 0xBB, 0xBF}, minimalTD...)
	td, err := thing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(td)
	if bytes.HasPrefix(out, []byte{0xEF}) {
		t.Error("BOM produced on output")
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"title": }`, `{"a": 1,}`, `[1,]`, `{"a" 1}`, `{"a": tru}`, `{"a": 01}`, `{"a": 1.}`,
		`{"a": "\x"}`, "{\"a\": \"\x01\"}", "{\"a\": \"\xff\"}", `{} {}`, `{"a": -}`, `{"a": 1e}`,
		strings.Repeat("[", 600) + strings.Repeat("]", 600),
	} {
		_, err := thing.Parse([]byte(in))
		var se *thing.SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, thing.ErrInvalid) {
			t.Errorf("%q: want *SyntaxError, got %v", in, err)
		}
	}
}

func TestTypeErrorsReportedTogether(t *testing.T) {
	data := withMembers(`"id": 5, "properties": {"p": {"readOnly": "yes", "minimum": "1", "forms": [{"href": 3}]}}, "links": {}`)
	_, err := thing.Parse(data)
	paths := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ve *thing.ValidationError
		if errors.As(e, &ve) {
			paths[ve.Path] = true
		}
	}
	for _, p := range []string{"/id", "/properties/p/readOnly", "/properties/p/minimum", "/properties/p/forms/0/href", "/links"} {
		if !paths[p] {
			t.Errorf("no error at %s; got %v", p, paths)
		}
	}
}

func TestStringEscapes(t *testing.T) {
	data := withMembers(`"description": "a\"b\\c\/d\n\u00e9\ud83d\ude00\u2028", "x:k\u0065y": "v"`)
	td, err := thing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\"b\\c/d\né😀\u2028"; td.Description != want {
		t.Errorf("description = %q, want %q", td.Description, want)
	}
	if td.Extensions["x:key"] == nil {
		t.Errorf("escaped member name not decoded: %v", td.Extensions)
	}
	out, _ := json.Marshal(td)
	td2, err := thing.Parse(out)
	if err != nil || td2.Description != td.Description {
		t.Errorf("escape round trip: %v %q", err, td2.Description)
	}
}

func TestEscapedNamesInPaths(t *testing.T) {
	_, err := thing.Parse(withMembers(`"x:a\u0062": 1, "x:ab": 2, "properties": {"p\u002fq": {"type": 5, "forms": [{"href": "a"}]}}`))
	got := errorPaths(err)
	if want := []string{"/properties/p~1q/type", "/x:ab"}; !slices.Equal(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}
}

func TestUnmarshalSubtypes(t *testing.T) {
	var f thing.Form
	if err := json.Unmarshal([]byte(`{"href": "x", "op": "readproperty", "htv:methodName": "GET"}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Href != "x" || f.Op.Values[0] != "readproperty" || f.Op.Array || string(f.Extensions["htv:methodName"]) != `"GET"` {
		t.Errorf("form = %+v", f)
	}
	var s thing.Strings
	if err := json.Unmarshal([]byte(`["a"]`), &s); err != nil || !s.Array {
		t.Errorf("strings = %+v, %v", s, err)
	}
	out, _ := json.Marshal(s)
	if string(out) != `["a"]` {
		t.Errorf("strings marshal = %s", out)
	}
	var p thing.Property
	if err := json.Unmarshal([]byte(`{"type": "integer", "observable": true, "forms": [{"href": "p"}]}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "integer" || !p.Observable {
		t.Errorf("property = %+v", p)
	}
	var sc thing.SecurityScheme
	if err := json.Unmarshal([]byte(`{"scheme": "bearer", "alg": "ES256"}`), &sc); err != nil || sc.EffectiveIn() != "header" || sc.EffectiveFormat() != "jwt" {
		t.Errorf("scheme = %+v, %v", sc, err)
	}
	var l thing.Link
	if err := json.Unmarshal([]byte(`{"href": "a", "rel": "icon", "sizes": ""}`), &l); err != nil {
		t.Fatal(err)
	}
	out, _ = json.Marshal(l)
	if !bytes.Contains(out, []byte(`"sizes":""`)) {
		t.Errorf("empty sizes lost: %s", out)
	}
	var m thing.MultiLanguage
	if err := json.Unmarshal([]byte(`{"en": "a", "en": "b"}`), &m); err == nil {
		t.Error("duplicate language accepted")
	}
}

func TestMarshalRejectsCollidingExtension(t *testing.T) {
	td := thing.New("urn:x", "X").Property("p", thing.Integer()).MustBuild()
	td.Properties["p"].Extensions = map[string]json.RawMessage{"type": json.RawMessage(`"string"`)}
	if _, err := json.Marshal(td); err == nil {
		t.Error("an extension named like a TD term was written")
	}
	td.Properties["p"].Extensions = map[string]json.RawMessage{"x:y": json.RawMessage(`{bad`)}
	if _, err := json.Marshal(td); err == nil {
		t.Error("invalid raw JSON was written")
	}
	td.Properties["p"].Extensions = map[string]json.RawMessage{"x:y": json.RawMessage(`[1]`)}
	if _, err := json.Marshal(td); err != nil {
		t.Error(err)
	}
}

// TestParseOwnsItsMemory checks that a parsed Description shares no memory
// with the caller's input (which the caller may reuse) and that values
// carved from shared blocks cannot overwrite each other.
func TestParseOwnsItsMemory(t *testing.T) {
	data := typicalTD(t)
	td, err := thing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	got, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("overwriting the input changed the parsed Description")
	}

	// Appending to one extension value or string list must not show up
	// in another.
	var forms []thing.Form
	for _, name := range slices.Sorted(maps.Keys(td.Properties)) {
		forms = append(forms, td.Properties[name].Forms...)
	}
	var exts []json.RawMessage
	for _, f := range forms {
		if m, ok := f.Extensions["htv:methodName"]; ok {
			exts = append(exts, m)
		}
	}
	if len(exts) < 2 {
		t.Fatalf("typical TD has %d htv:methodName extensions, want several", len(exts))
	}
	for i := range exts {
		_ = append(exts[i], "!!!!"...)
	}
	for i, f := range forms {
		_ = append(f.Op.Values, "clobbered")
		forms[i] = f
	}
	got, err = json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("appending to a parsed value changed its neighbours")
	}
}
