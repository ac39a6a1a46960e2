package thing_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// addCorpusSeeds adds the shared corpus (when present) and the typical TD
// as fuzz seeds.
func addCorpusSeeds(f *testing.F) {
	f.Add([]byte(minimalTD))
	if data, err := os.ReadFile("testdata/typical.json"); err == nil {
		f.Add(data)
	}
	dir, _ := os.Getwd()
	root := filepath.Join(dir, "..", "..", "shared", "wot", "corpus")
	if d, ok := os.LookupEnv("HEARTH_WOT_DIR"); ok {
		root = filepath.Join(d, "corpus")
	}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
}

// FuzzParse: Parse never panics, rejects only with ErrInvalid errors, and
// what it accepts marshals to a document that parses again to the same
// bytes.
func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := thing.Parse(data)
		if err != nil {
			if !errors.Is(err, thing.ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			// The other entry points must not panic either.
			var d thing.Description
			_ = json.Unmarshal(data, &d)
			_, _ = thing.ParseModel(data)
			return
		}
		out1, err := json.Marshal(td)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		td2, err := thing.Parse(out1)
		if err != nil {
			t.Fatalf("re-parse of marshalled TD failed: %v\n%s", err, out1)
		}
		out2, err := json.Marshal(td2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out1, out2) {
			t.Fatalf("unstable round trip:\n%s\n%s", out1, out2)
		}
		_ = td.Warnings()
	})
}

// FuzzValidateValue: compiling any data schema and validating any JSON
// value never panics, and raw-JSON validation agrees with validation of
// the decoded value.
func FuzzValidateValue(f *testing.F) {
	f.Add([]byte(`{"type":"integer","minimum":0,"maximum":100}`), []byte(`42`))
	f.Add([]byte(`{"type":"string","pattern":"^[a-z]+\\s$","minLength":2}`), []byte(`"ab "`))
	f.Add([]byte(`{"type":"object","properties":{"a":{"type":"number","multipleOf":0.1}},"required":["a"]}`), []byte(`{"a":0.3}`))
	f.Add([]byte(`{"type":"array","items":[{"type":"string"},{"enum":[1,2]}],"maxItems":2}`), []byte(`["x",2]`))
	f.Add([]byte(`{"oneOf":[{"type":"string"},{"const":null}]}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, schemaJSON, value []byte) {
		var ds thing.DataSchema
		if err := json.Unmarshal(schemaJSON, &ds); err != nil {
			return
		}
		s, err := thing.Compile(&ds)
		if err != nil {
			return
		}
		rawErr := s.ValidateJSON(value)
		var v any
		if json.Unmarshal(value, &v) != nil || hasDuplicateKeys(value) {
			return
		}
		goErr := s.Validate(v)
		if (rawErr == nil) != (goErr == nil) {
			t.Fatalf("ValidateJSON says %v, Validate says %v, for %s against %s", rawErr, goErr, value, schemaJSON)
		}
		if rawErr != nil && !errors.Is(rawErr, thing.ErrInvalidValue) {
			t.Fatalf("error does not match ErrInvalidValue: %v", rawErr)
		}
	})
}

// hasDuplicateKeys reports whether raw has a repeated member name, which
// ValidateJSON rejects and encoding/json silently accepts.
func hasDuplicateKeys(raw []byte) bool {
	// Any value, schema-checked against the empty schema, reports
	// duplicates as a failure of ValidateJSON.
	return thing.MustCompile(&thing.DataSchema{}).ValidateJSON(raw) != nil
}

// FuzzExpandTemplate: expansion never panics, and what it produces is a
// URI: only unreserved and reserved characters and percent-encodings.
func FuzzExpandTemplate(f *testing.F) {
	for _, s := range []string{
		"http://example.com/{id}", "{?lat,lon}", "/things{/path*}{?q*}", "{+base}x{#frag}", "{;p:3}", "{.a,b}", "{&c}",
		"map{?keys*}", "{x", "x}", "{!x}", "{a:0}", "{a:10000}", "caf\u00e9/{id}",
	} {
		f.Add(s, "v", "a b/c")
	}
	f.Fuzz(func(t *testing.T, template, v1, v2 string) {
		vars := map[string]any{
			"id": v1, "lat": 1.5, "lon": v2, "path": []string{v1, v2}, "q": map[string]string{"a": v1, "b": v2},
			"base": v2, "frag": v1, "p": v2, "a": v1, "b": v2, "c": []any{}, "keys": map[string]any{"k": v1},
		}
		out, err := thing.ExpandTemplate(template, vars)
		if err != nil {
			if !errors.Is(err, thing.ErrTemplate) {
				t.Fatalf("error does not match ErrTemplate: %v", err)
			}
			// Some templates are well-formed but fail for some values (a
			// prefix modifier on a list or map, RFC 6570 section 2.4.1);
			// only a template that fails with plain strings must be
			// rejected by TemplateVariables too.
			plain := map[string]any{}
			for k := range vars {
				plain[k] = "v"
			}
			if _, err := thing.ExpandTemplate(template, plain); err == nil {
				return
			}
			if _, err2 := thing.TemplateVariables(template); err2 == nil {
				t.Fatalf("TemplateVariables accepts what ExpandTemplate rejects: %q (%v)", template, err)
			}
			return
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			switch {
			case c == '%':
				if i+2 >= len(out) || !isHexDigit(out[i+1]) || !isHexDigit(out[i+2]) {
					t.Fatalf("bad percent-encoding in %q", out)
				}
			case c >= 0x80 || c <= ' ' || strings.IndexByte(`"<>\^`+"`{|}", c) >= 0:
				t.Fatalf("character %q not allowed in a URI: %q from %q", c, out, template)
			}
		}
	})
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
