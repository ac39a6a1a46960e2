package thing_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

func TestValueValidation(t *testing.T) {
	cases := []struct {
		schema string
		value  string
		ok     bool
	}{
		{`{}`, `{"anything": [1]}`, true},
		{`{"type": "boolean"}`, `true`, true},
		{`{"type": "boolean"}`, `"true"`, false},
		{`{"type": "integer"}`, `3`, true},
		{`{"type": "integer"}`, `3.0`, true},
		{`{"type": "integer"}`, `3.5`, false},
		{`{"type": "number"}`, `3.5`, true},
		{`{"type": "number"}`, `null`, false},
		{`{"type": "null"}`, `null`, true},
		{`{"type": "string"}`, `""`, true},
		{`{"type": "object"}`, `[]`, false},
		{`{"type": "array"}`, `{}`, false},
		{`{"minimum": 0, "maximum": 100}`, `100`, true},
		{`{"minimum": 0, "maximum": 100}`, `-0.5`, false},
		{`{"exclusiveMinimum": 0}`, `0`, false},
		{`{"exclusiveMaximum": 10}`, `9.999`, true},
		{`{"exclusiveMaximum": 10}`, `10`, false},
		{`{"multipleOf": 0.1}`, `0.3`, true},
		{`{"multipleOf": 0.1}`, `0.35`, false},
		{`{"multipleOf": 5}`, `-15`, true},
		{`{"minLength": 2, "maxLength": 3}`, `"ab"`, true},
		{`{"maxLength": 3}`, `"héé"`, true},
		{`{"maxLength": 3}`, `"😀😀😀"`, true},
		{`{"maxLength": 3}`, `"abcd"`, false},
		{`{"minLength": 1}`, `""`, false},
		{`{"pattern": "^[a-z]+$"}`, `"abc"`, true},
		{`{"pattern": "^[a-z]+$"}`, `"abc1"`, false},
		{`{"pattern": "b"}`, `"abc"`, true},
		{`{"pattern": "^a.c$"}`, `"a\nc"`, false},
		{`{"pattern": "^a.c$"}`, "\"a\u2028c\"", false},
		{`{"pattern": "^a\\sc$"}`, "\"a\u00a0c\"", true},
		{`{"pattern": "^\\u0041$"}`, `"A"`, true},
		{`{"pattern": "^[^]$"}`, `"\n"`, true},
		{`{"enum": ["on", "off"]}`, `"on"`, true},
		{`{"enum": ["on", "off"]}`, `"dim"`, false},
		{`{"enum": [1, [1, 2], {"a": null}]}`, `1.0`, true},
		{`{"enum": [1, [1, 2], {"a": null}]}`, `[1, 2]`, true},
		{`{"enum": [1, [1, 2], {"a": null}]}`, `{"a": null}`, true},
		{`{"enum": [1, [1, 2], {"a": null}]}`, `{"a": 0}`, false},
		{`{"const": "x"}`, `"x"`, true},
		{`{"const": null}`, `null`, true},
		{`{"const": null}`, `0`, false},
		{`{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, `1`, true},
		{`{"oneOf": [{"type": "number"}, {"type": "integer"}]}`, `1`, false},
		{`{"oneOf": [{"type": "number"}, {"type": "integer"}]}`, `1.5`, true},
		{`{"oneOf": [{"type": "string"}, {"type": "boolean"}]}`, `null`, false},
		{`{"items": {"type": "integer"}, "minItems": 1, "maxItems": 2}`, `[1, 2]`, true},
		{`{"items": {"type": "integer"}}`, `[1, "2"]`, false},
		{`{"items": {"type": "integer"}, "maxItems": 2}`, `[1, 2, 3]`, false},
		{`{"items": {"type": "integer"}, "minItems": 1}`, `[]`, false},
		{`{"items": [{"type": "string"}, {"type": "number"}]}`, `["a", 1, true]`, true},
		{`{"items": [{"type": "string"}, {"type": "number"}]}`, `[1, "a"]`, false},
		{`{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}`, `{"a": "x", "b": 1}`, true},
		{`{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}`, `{"b": 1}`, false},
		{`{"type": "object", "properties": {"a": {"type": "string"}}}`, `{"a": 1}`, false},
		{`{"type": "object", "properties": {"a": {"properties": {"b": {"maximum": 1}}}}}`, `{"a": {"b": 2}}`, false},
	}
	for _, c := range cases {
		var ds thing.DataSchema
		if err := json.Unmarshal([]byte(c.schema), &ds); err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
		s, err := thing.Compile(&ds)
		if err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
		errJSON := s.ValidateJSON([]byte(c.value))
		var v any
		if err := json.Unmarshal([]byte(c.value), &v); err != nil {
			t.Fatal(err)
		}
		errGo := s.Validate(v)
		for name, err := range map[string]error{"ValidateJSON": errJSON, "Validate": errGo} {
			if (err == nil) != c.ok {
				t.Errorf("%s(%s) against %s = %v, want ok=%v", name, c.value, c.schema, err, c.ok)
			}
			if err != nil && !errors.Is(err, thing.ErrInvalidValue) {
				t.Errorf("%s: error does not match ErrInvalidValue: %v", name, err)
			}
		}
	}
}

func TestValueErrorPaths(t *testing.T) {
	s := thing.MustCompile(thing.Object().
		Prop("level", thing.Integer().Range(0, 100)).
		Prop("tags", thing.Array(thing.String().Length(1, 8))).
		Required("level", "mode").Schema())
	err := s.ValidateJSON([]byte(`{"level": 101, "tags": ["ok", ""]}`))
	want := map[string]bool{"/level": true, "/tags/1": true, "": true}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ve *thing.ValueError
		if !errors.As(e, &ve) || !want[ve.Path] {
			t.Errorf("unexpected error %v", e)
		}
		n++
	}
	if n != 3 {
		t.Errorf("got %d errors, want 3: %v", n, err)
	}
	// Validate reports the same paths.
	var v any
	json.Unmarshal([]byte(`{"level": 101, "tags": ["ok", ""]}`), &v)
	if got := s.Validate(v); got == nil || strings.Count(got.Error(), "\n") != 2 {
		t.Errorf("Validate: %v", got)
	}
}

func TestValueValidationInputs(t *testing.T) {
	s := thing.MustCompile(thing.Integer().Range(0, 10).Schema())
	for _, v := range []any{int(3), int64(3), uint8(3), float32(3), json.Number("3"), json.RawMessage(`3`)} {
		if err := s.Validate(v); err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}
	if err := s.Validate(struct{}{}); !errors.Is(err, thing.ErrInvalidValue) {
		t.Errorf("unsupported type: %v", err)
	}
	for _, raw := range []string{`3 x`, `{"a": 1, "a": 2}`, ``, `[1,]`} {
		if err := thing.MustCompile(nil).ValidateJSON([]byte(raw)); !errors.Is(err, thing.ErrInvalidValue) {
			t.Errorf("%q: want ErrInvalidValue, got %v", raw, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{`(?=a)`, `(?<!a)b`, `(a)\1`, `\k<x>`, `[a`} {
		if _, err := thing.Compile(&thing.DataSchema{Pattern: p}); !errors.Is(err, thing.ErrPattern) {
			t.Errorf("pattern %q: want ErrPattern, got %v", p, err)
		}
	}
	if _, err := thing.Compile(&thing.DataSchema{Type: "int"}); err == nil {
		t.Error("unknown type compiled")
	}
}

func TestScalarValidationAllocs(t *testing.T) {
	s := thing.MustCompile(thing.Integer().Range(0, 100).Schema())
	str := thing.MustCompile(thing.String().Enum("on", "off").Schema())
	raw, on := []byte(`42`), []byte(`"on"`)
	var v any = 42.0
	allocs := testing.AllocsPerRun(100, func() {
		if s.ValidateJSON(raw) != nil || s.Validate(v) != nil || str.ValidateJSON(on) != nil {
			t.Fatal("valid value rejected")
		}
	})
	if allocs != 0 {
		t.Errorf("scalar validation allocates %v times", allocs)
	}
}
