package thing_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// errorPaths returns the JSON pointers of the *ValidationErrors in err.
func errorPaths(err error) []string {
	var paths []string
	var walk func(error)
	walk = func(e error) {
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		var ve *thing.ValidationError
		if errors.As(e, &ve) {
			paths = append(paths, ve.Path)
		}
	}
	if err != nil {
		walk(err)
	}
	return paths
}

// td builds a TD document from extra top-level members and replacements
// of the minimal TD's security members.
func td(members string) []byte {
	return withMembers(members)
}

func TestValidationRules(t *testing.T) {
	prop := func(p string) string { return `"properties": {"p": ` + p + `}` }
	cases := []struct {
		name    string
		doc     []byte
		path    string // a path that must be reported; "" means valid
		lenient bool
	}{
		{"valid minimal", []byte(minimalTD), "", false},
		{"property op of another kind", td(prop(`{"forms": [{"href": "x", "op": "invokeaction"}]}`)), "/properties/p/forms/0/op", false},
		{"op is case-sensitive", td(prop(`{"forms": [{"href": "x", "op": ["readProperty"]}]}`)), "/properties/p/forms/0/op/0", false},
		{"empty op array", td(prop(`{"forms": [{"href": "x", "op": []}]}`)), "/properties/p/forms/0/op", false},
		{"root form needs op", td(`"forms": [{"href": "x"}]`), "/forms/0/op", false},
		{"root form op kind", td(`"forms": [{"href": "x", "op": "readproperty"}]`), "/forms/0/op", false},
		{"root forms not empty", td(`"forms": []`), "/forms", false},
		{"form security undefined", td(prop(`{"forms": [{"href": "x", "security": "nope"}]}`)), "/properties/p/forms/0/security", false},
		{"missing href", td(prop(`{"forms": [{"op": "readproperty"}]}`)), "/properties/p/forms/0/href", false},
		{"affordance needs forms", td(`"actions": {"a": {}}`), "/actions/a/forms", false},
		{"event op kind", td(`"events": {"e": {"forms": [{"href": "x", "op": "readproperty"}]}}`), "/events/e/forms/0/op", false},
		{"response needs contentType", td(prop(`{"forms": [{"href": "x", "response": {}}]}`)), "/properties/p/forms/0/response/contentType", false},
		{"lenient response", td(prop(`{"forms": [{"href": "x", "response": {}}]}`)), "", true},
		{"additionalResponses schema", td(`"actions": {"a": {"forms": [{"href": "x", "additionalResponses": [{"schema": "nope"}]}]}}`), "/actions/a/forms/0/additionalResponses/0/schema", false},
		{"context first entry", []byte(strings.Replace(minimalTD, `"https://www.w3.org/2022/wot/td/v1.1"`, `["https://example.com/ctx"]`, 1)), "/@context/0", false},
		{"v1 after v1.1", []byte(strings.Replace(minimalTD, `"https://www.w3.org/2022/wot/td/v1.1"`, `["https://www.w3.org/2022/wot/td/v1.1", "https://www.w3.org/2019/wot/td/v1"]`, 1)), "/@context/1", false},
		{"v1 then v1.1", []byte(strings.Replace(minimalTD, `"https://www.w3.org/2022/wot/td/v1.1"`, `["https://www.w3.org/2019/wot/td/v1", "https://www.w3.org/2022/wot/td/v1.1", {"x": "y"}]`, 1)), "", false},
		{"context term value", []byte(strings.Replace(minimalTD, `"https://www.w3.org/2022/wot/td/v1.1"`, `["https://www.w3.org/2022/wot/td/v1.1", {"x": {"@id": "y"}}]`, 1)), "/@context/1/x", false},
		{"id must be a URI", td(`"id": "not a uri"`), "/id", false},
		{"created date-time", td(`"created": "2024-02-30T10:00:00Z"`), "/created", false},
		{"created ok", td(`"created": "2024-02-29T10:00:00.5+01:00"`), "", false},
		{"titles language tag", td(`"titles": {"en_US": "x"}`), "/titles/en_US", false},
		{"version instance", td(`"version": {"model": "1"}`), "/version/instance", false},
		{"profile not empty", td(`"profile": []`), "/profile", false},
		{"schemaDefinitions not empty", td(`"schemaDefinitions": {}`), "/schemaDefinitions", false},
		{"@type tm:ThingModel", td(`"@type": ["Thing", "tm:ThingModel"]`), "/@type/1", false},
		{"data schema type", td(prop(`{"type": "int", "forms": [{"href": "x"}]}`)), "/properties/p/type", false},
		{"enum unique", td(prop(`{"enum": [1, 1.0], "forms": [{"href": "x"}]}`)), "/properties/p/enum/1", false},
		{"enum not empty", td(prop(`{"enum": [], "forms": [{"href": "x"}]}`)), "/properties/p/enum", false},
		{"minLength", td(prop(`{"minLength": -1, "forms": [{"href": "x"}]}`)), "/properties/p/minLength", false},
		{"minLength integer", td(prop(`{"minLength": 1.5, "forms": [{"href": "x"}]}`)), "/properties/p/minLength", false},
		{"multipleOf", td(prop(`{"multipleOf": 0, "forms": [{"href": "x"}]}`)), "/properties/p/multipleOf", false},
		{"nested schema", td(prop(`{"type": "object", "properties": {"a": {"items": [{"type": "x"}]}}, "forms": [{"href": "x"}]}`)), "/properties/p/properties/a/items/0/type", false},
		{"links: two type links", td(`"links": [{"href": "a", "rel": "type"}, {"href": "b", "rel": "type"}]`), "/links/1/rel", false},
		{"links: sizes only on icons", td(`"links": [{"href": "a", "sizes": "16x16"}]`), "/links/0/sizes", false},
		{"links: icon sizes", td(`"links": [{"href": "a", "rel": "icon", "sizes": "big"}]`), "/links/0/sizes", false},
		{"links: icon sizes ok", td(`"links": [{"href": "a", "rel": "icon", "sizes": "16x16 32x32"}]`), "", false},
		{"links: tm:extends", td(`"links": [{"href": "a", "rel": "tm:extends"}]`), "/links/0/rel", false},
		{"links: hreflang", td(`"links": [{"href": "a", "hreflang": ["en", "english!"]}]`), "/links/0/hreflang/1", false},
		{"links: href", td(`"links": [{"rel": "a"}]`), "/links/0/href", false},
	}
	schemes := []struct {
		name   string
		scheme string
		path   string
	}{
		{"unknown scheme", `{"scheme": "token"}`, "/securityDefinitions/s/scheme"},
		{"extension scheme", `{"scheme": "ace:ACESecurityScheme", "ace:as": "x"}`, ""},
		{"auto with name", `{"scheme": "auto", "name": "x"}`, "/securityDefinitions/s/name"},
		{"basic in uri", `{"scheme": "basic", "in": "uri"}`, "/securityDefinitions/s/in"},
		{"apikey in uri needs the variable", `{"scheme": "apikey", "in": "uri", "name": "key"}`, "/properties/p/forms/0/href"},
		{"digest qop", `{"scheme": "digest", "qop": "auth-conf"}`, "/securityDefinitions/s/qop"},
		{"bearer alg type", `{"scheme": "bearer", "alg": 256}`, "/securityDefinitions/s/alg"},
		{"nosec ignores in", `{"scheme": "nosec", "in": 5}`, ""},
		{"oauth2 scopes", `{"scheme": "oauth2", "flow": "code", "scopes": ["a", 1]}`, "/securityDefinitions/s/scopes"},
		{"combo both", `{"scheme": "combo", "oneOf": ["x", "y"], "allOf": ["x", "y"]}`, "/securityDefinitions/s"},
		{"combo neither", `{"scheme": "combo"}`, "/securityDefinitions/s"},
		{"combo one member", `{"scheme": "combo", "allOf": ["x"]}`, "/securityDefinitions/s/allOf"},
		{"combo undefined member", `{"scheme": "combo", "oneOf": ["x", "nope"]}`, "/securityDefinitions/s/oneOf/1"},
		{"combo ok", `{"scheme": "combo", "oneOf": ["x", "y"]}`, ""},
	}
	for _, s := range schemes {
		doc := `{"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "T",
			"securityDefinitions": {"s": ` + s.scheme + `, "x": {"scheme": "basic"}, "y": {"scheme": "bearer"}},
			"security": "s", "properties": {"p": {"forms": [{"href": "p"}]}}}`
		cases = append(cases, struct {
			name    string
			doc     []byte
			path    string
			lenient bool
		}{s.name, []byte(doc), s.path, false})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := thing.Options{Lenient: c.lenient}.Parse(c.doc)
			if c.path == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, thing.ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if paths := errorPaths(err); !slices.Contains(paths, c.path) {
				t.Fatalf("no error at %s; got %v", c.path, err)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	_, err := thing.Parse([]byte(`{"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"titles": {"e n": "x"}, "security": ["a"], "securityDefinitions": {"b": {"scheme": "basic"}},
		"properties": {"p": {"type": "bogus", "forms": [{"href": "x", "op": "invokeaction"}]}},
		"links": [{"href": "a", "rel": "type"}, {"href": "b", "rel": "type"}]}`))
	want := []string{"/links/1/rel", "/properties/p/forms/0/op", "/properties/p/type", "/security/0", "/title", "/titles/e n"}
	got := errorPaths(err)
	if !slices.Equal(got, want) {
		t.Errorf("paths = %v\nwant    %v", got, want)
	}
}

func TestValidateBuiltDescription(t *testing.T) {
	d := thing.New("urn:x", "X").MustBuild()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	d.Properties = map[string]*thing.Property{"p": {Forms: []thing.Form{{Href: "p", Op: thing.Strings{Values: []string{"subscribeevent"}}}}}}
	d.Security.Values = []string{"missing"}
	paths := errorPaths(d.Validate())
	for _, p := range []string{"/properties/p/forms/0/op", "/security"} {
		if !slices.Contains(paths, p) {
			t.Errorf("no error at %s: %v", p, paths)
		}
	}
}

func TestWarnings(t *testing.T) {
	data := td(`"properties": {
		"a": {"enum": [1, 2], "const": 1, "forms": [{"href": "a"}]},
		"b": {"type": "array", "forms": [{"href": "b"}]},
		"c": {"type": "object", "forms": [{"href": "c"}]},
		"d": {"type": "string", "readOnly": true, "forms": [{"href": "d", "op": ["readproperty", "writeproperty"]}]},
		"e": {"type": "string", "pattern": "(?<=a)b", "forms": [{"href": "e"}]},
		"f": {"type": "integer", "minimum": 5, "maximum": 1, "forms": [{"href": "f"}]}
	}`)
	d, err := thing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, w := range d.Warnings() {
		paths = append(paths, w.Path)
	}
	for _, p := range []string{"/properties/a", "/properties/b", "/properties/c", "/properties/d/forms/0/op", "/properties/e/pattern", "/properties/f"} {
		if !slices.Contains(paths, p) {
			t.Errorf("no warning at %s: %v", p, d.Warnings())
		}
	}
	if w := thing.New("urn:x", "X").Property("p", thing.Integer()).MustBuild().Warnings(); len(w) != 0 {
		t.Errorf("unexpected warnings: %v", w)
	}
}

func TestIsLanguageTag(t *testing.T) {
	for _, tag := range []string{"en", "de-CH", "zh-Hant-TW", "sr-Latn-RS", "es-419", "x-private", "i-klingon", "en-US-x-twain", "sl-rozaj-biske", "de-DE-u-co-phonebk"} {
		if !thing.IsLanguageTag(tag) {
			t.Errorf("%q rejected", tag)
		}
	}
	for _, tag := range []string{"", "e", "en_US", "english-", "en--US", "123", "de-", "toolongtag"} {
		if thing.IsLanguageTag(tag) {
			t.Errorf("%q accepted", tag)
		}
	}
}
