package gateway_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// td11Schema compiles the official TD 1.1 JSON Schema from the shared W3C
// reference material (../shared/wot next to the repository, or
// HEARTH_WOT_DIR), or skips.
func td11Schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	dir, ok := os.LookupEnv("HEARTH_WOT_DIR")
	if !ok {
		dir = filepath.Join("..", "..", "shared", "wot") // from gateway/ to the repository's sibling
	}
	f, err := os.Open(filepath.Join(dir, "schema", "td11-rec-td-json-schema-validation.json"))
	if err != nil {
		t.Skipf("W3C TD 1.1 schema not found under %s (../shared/wot next to the repository, or HEARTH_WOT_DIR); skipping", dir)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const url = "file:///td11-schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) { return nil, errors.New("no network: " + url) }

// TestTDsAreValidTD11 checks every TD the Server writes (a thing's, trimmed
// or not, with bearer or nosec security, and the directory's own) against
// the official TD 1.1 schema and package thing's validation, and that the
// @context opens with the TD 1.0 then 1.1 URIs (the backward-compatible form
// that TD 1.0 consumers such as node-wot 0.9 accept).
func TestTDsAreValidTD11(t *testing.T) {
	sch := td11Schema(t)
	check := func(name string, b []byte) {
		t.Helper()
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: rejected by the TD 1.1 schema: %v", name, err)
		}
		if _, err := thing.Parse(b); err != nil {
			t.Errorf("%s: rejected by thing.Parse: %v", name, err)
		}
		var td struct {
			Context []any `json:"@context"`
		}
		if err := json.Unmarshal(b, &td); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(td.Context) < 2 || td.Context[0] != thing.ContextV1 || td.Context[1] != thing.ContextV11 {
			t.Errorf("%s: @context %v, want the TD 1.0 then the TD 1.1 URI first", name, td.Context)
		}
	}
	h := newHarness(t, gateway.Config{})
	check("full TD", h.must(200, "GET", "/things/urn:test:lamp", tokFull, ""))
	check("trimmed TD", h.must(200, "GET", "/things/urn:test:lamp", tokRead, ""))
	check("directory TD", h.must(200, "GET", "/.well-known/wot", "", ""))

	open := newHarness(t, gateway.Config{Authorizer: gateway.InsecureAllowAll()})
	check("nosec TD", open.must(200, "GET", "/things/urn:test:lamp", "", ""))
}
