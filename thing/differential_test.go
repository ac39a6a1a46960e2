package thing

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The differential test checks Hearth's verdict on a document against the
// official TD 1.1 JSON Schema evaluated by santhosh-tekuri/jsonschema: for
// every corpus file, and for thousands of documents made by mutating the
// corpus. They must agree, except where Hearth is deliberately stricter:
// then every error Hearth reports must be one of the rules beyond the
// schema (listed in the package documentation, marked strict in code).

func wotDir(tb testing.TB) string {
	tb.Helper()
	if dir, ok := os.LookupEnv("HEARTH_WOT_DIR"); ok {
		// Override (CI, or a run that must prove the tests skip cleanly).
		if _, err := os.Stat(filepath.Join(dir, "corpus")); err != nil {
			tb.Skipf("W3C WoT reference material not found at HEARTH_WOT_DIR=%s; skipping", dir)
		}
		return dir
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			tb.Skip("repository root not found")
		}
		dir = filepath.Dir(dir)
	}
	p := filepath.Join(dir, "..", "shared", "wot")
	if _, err := os.Stat(filepath.Join(p, "schema")); err != nil {
		tb.Skipf("W3C WoT reference material not found at %s (../shared/wot next to the repository); skipping", p)
	}
	return p
}

// officialSchema compiles the TD 1.1 JSON Schema from the shared folder.
// Nothing is fetched: the schema has only local references.
func officialSchema(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	root := wotDir(tb)
	f, err := os.Open(filepath.Join(root, "schema", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const url = "file:///td-schema.json"
	if err := c.AddResource(url, doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		tb.Fatal(err)
	}
	return sch
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) { return nil, errors.New("no network: " + url) }

func schemaAccepts(sch *jsonschema.Schema, data []byte) bool {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false
	}
	return sch.Validate(inst) == nil
}

// verdict parses data and reports whether Hearth accepts it, and whether
// all its errors are rules beyond the schema.
func verdict(data []byte) (ok, allStrict bool, err error) {
	_, err = Parse(data)
	if err == nil {
		return true, false, nil
	}
	var list []error
	if u, isJoin := err.(interface{ Unwrap() []error }); isJoin {
		list = u.Unwrap()
	} else {
		list = []error{err}
	}
	allStrict = true
	for _, e := range list {
		ve, isVE := e.(*ValidationError)
		if !isVE || !ve.strict {
			allStrict = false
		}
	}
	return false, allStrict, err
}

func corpusDocs(tb testing.TB) map[string][]byte {
	root := wotDir(tb)
	out := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(root, "corpus"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(filepath.Join(root, "corpus"), p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// knownDuplicates are corpus files whose only fault is a duplicate member
// name, which a JSON Schema validator cannot see.
func isDuplicateOnly(err error) bool {
	return errors.Is(err, ErrDuplicateMember)
}

func TestDifferentialCorpus(t *testing.T) {
	sch := officialSchema(t, "td11-rec-td-json-schema-validation.json")
	docs := corpusDocs(t)
	agree, stricter := 0, 0
	for _, name := range sortedKeys(docs) {
		data := docs[name]
		want := schemaAccepts(sch, data)
		got, allStrict, err := verdict(data)
		switch {
		case got == want:
			agree++
		case !got && allStrict:
			stricter++
			t.Logf("%s: stricter than the schema: %v", name, err)
		case got:
			t.Errorf("%s: Hearth accepts what the official schema rejects", name)
		default:
			t.Errorf("%s: Hearth rejects what the official schema accepts, for a schema rule:\n%v", name, err)
		}
	}
	t.Logf("corpus: %d documents, %d same verdict, %d deliberately stricter", len(docs), agree, stricter)
}

// TestDifferentialMutations mutates corpus documents with a fixed seed and
// compares verdicts.
func TestDifferentialMutations(t *testing.T) {
	sch := officialSchema(t, "td11-rec-td-json-schema-validation.json")
	docs := corpusDocs(t)
	names := sortedKeys(docs)
	n := 6000
	if testing.Short() {
		n = 1000
	}
	seed := uint64(1)
	if s := os.Getenv("HEARTH_DIFF_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
		if m, err := strconv.Atoi(os.Getenv("HEARTH_DIFF_N")); err == nil {
			n = m
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		var doc any
		if err := json.Unmarshal(docs[names[rng.IntN(len(names))]], &doc); err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(3) {
			doc = mutate(rng, doc)
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		want := schemaAccepts(sch, data)
		got, allStrict, perr := verdict(data)
		switch {
		case got == want && got:
			counts["both accept"]++
		case got == want:
			counts["both reject"]++
		case !got && allStrict:
			counts["stricter"]++
		case got:
			t.Errorf("Hearth accepts what the schema rejects:\n%s", data)
		default:
			t.Errorf("Hearth rejects for a schema rule what the schema accepts:\n%s\n%v", data, perr)
		}
	}
	t.Logf("%d mutated documents: %v", n, counts)
}

// vocabulary feeds mutations with values the TD rules care about.
var vocabulary = []any{
	"", "x", "nosec", "basic", "digest", "apikey", "bearer", "psk", "oauth2", "combo", "auto", "ace:X", ":x", "a:",
	"readproperty", "writeproperty", "observeproperty", "invokeaction", "subscribeevent", "readallproperties",
	"queryallactions", "cancelaction", "unsubscribeevent", "readProperty",
	"boolean", "integer", "number", "string", "object", "array", "null", "int",
	"header", "query", "body", "cookie", "uri", "auto", "auth", "auth-int",
	"https://www.w3.org/2022/wot/td/v1.1", "https://www.w3.org/2019/wot/td/v1", "http://www.w3.org/ns/td",
	"tm:ThingModel", "icon", "type", "tm:extends", "16x16", "big", "en", "de-CH", "en_US", "x-private", "i-klingon",
	"2024-01-02T03:04:05Z", "2024-13-02T03:04:05Z", "2024-01-02", "urn:x", "http://example.com/{id}", "relative",
	"application/json", "basic_sc", "nosec_sc",
	0.0, 1.0, -1.0, 2.5, 1e300, 0.5, 3.0,
	true, false, nil,
	[]any{}, []any{"nosec_sc"}, []any{"a", "a"}, []any{1.0, 1.0}, []any{"readproperty", "bogus"},
	map[string]any{}, map[string]any{"href": "x"}, map[string]any{"scheme": "nosec"}, map[string]any{"type": "string"},
}

var memberNames = []string{
	"title", "titles", "description", "descriptions", "@type", "@context", "id", "version", "instance", "model",
	"created", "modified", "support", "base", "properties", "actions", "events", "links", "forms", "security",
	"securityDefinitions", "profile", "schemaDefinitions", "uriVariables", "op", "href", "contentType",
	"contentCoding", "subprotocol", "scopes", "response", "additionalResponses", "success", "schema", "rel",
	"anchor", "sizes", "hreflang", "scheme", "in", "name", "qop", "authorization", "alg", "format", "identity",
	"token", "refresh", "flow", "oneOf", "allOf", "proxy", "type", "const", "default", "enum", "unit", "readOnly",
	"writeOnly", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
	"maxLength", "pattern", "items", "minItems", "maxItems", "required", "observable", "input", "output", "safe",
	"idempotent", "synchronous", "subscription", "data", "dataResponse", "cancellation", "contentEncoding",
	"contentMediaType", "x:ext", "en", "en_US",
}

// mutate applies one random change somewhere in doc.
func mutate(rng *rand.Rand, doc any) any {
	// Collect containers.
	type slot struct {
		parent any
		key    string
		index  int
	}
	var slots []slot
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				slots = append(slots, slot{parent: x, key: k, index: -1})
				walk(x[k])
			}
		case []any:
			for i, e := range x {
				slots = append(slots, slot{parent: x, index: i})
				walk(e)
			}
		}
	}
	walk(doc)
	if len(slots) == 0 {
		return doc
	}
	s := slots[rng.IntN(len(slots))]
	val := vocabulary[rng.IntN(len(vocabulary))]
	// Deep-copy composite vocabulary so later mutations do not alias.
	if b, err := json.Marshal(val); err == nil {
		_ = json.Unmarshal(b, &val)
	}
	switch p := s.parent.(type) {
	case map[string]any:
		switch rng.IntN(4) {
		case 0:
			delete(p, s.key)
		case 1, 2:
			p[s.key] = val
		default:
			p[memberNames[rng.IntN(len(memberNames))]] = val
		}
	case []any:
		if rng.IntN(3) == 0 && len(p) > 0 {
			p[s.index] = p[0]
		} else {
			p[s.index] = val
		}
	}
	return doc
}

// TestDifferentialModels compares ParseModel with the official TM schema
// on every corpus Thing Model (resolution through a loader, which the
// schema cannot do, is left out).
func TestDifferentialModels(t *testing.T) {
	sch := officialSchema(t, "td11-rec-tm-json-schema-validation.json")
	docs := corpusDocs(t)
	agree := 0
	for _, name := range sortedKeys(docs) {
		if !strings.HasPrefix(name, "tm/") {
			continue
		}
		data := docs[name]
		want := schemaAccepts(sch, data)
		_, err := ParseModel(data)
		if got := err == nil; got != want {
			t.Errorf("%s: ParseModel says %v, the TM schema %v: %v", name, got, want, err)
			continue
		}
		agree++
	}
	t.Logf("Thing Models: %d same verdict", agree)
}

// FuzzDifferential feeds arbitrary JSON documents to both Hearth and the
// official schema. Inputs that are not valid UTF-8 JSON, or that nest
// deeper than Hearth's limit, are skipped: Hearth rejects those outright
// (see the package documentation).
func FuzzDifferential(f *testing.F) {
	dir, _ := os.Getwd()
	root := filepath.Join(dir, "..", "..", "shared", "wot")
	if d, ok := os.LookupEnv("HEARTH_WOT_DIR"); ok {
		root = d
	}
	if _, err := os.Stat(filepath.Join(root, "schema")); err != nil {
		f.Skipf("W3C WoT reference material not found at %s; skipping", root)
	}
	for _, data := range corpusDocs(f) {
		f.Add(data)
	}
	sch := officialSchema(f, "td11-rec-td-json-schema-validation.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) || !utf8.Valid(data) || bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > maxDepth {
			return
		}
		want := schemaAccepts(sch, data)
		got, allStrict, err := verdict(data)
		switch {
		case got == want:
		case !got && allStrict:
		case got:
			t.Fatalf("Hearth accepts what the official schema rejects:\n%s", data)
		default:
			t.Fatalf("Hearth rejects, for a schema rule, what the official schema accepts:\n%s\n%v", data, err)
		}
	})
}
