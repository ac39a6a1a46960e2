package thing_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// sharedWoT returns ../shared/wot relative to the repository root, or
// skips the test when it is absent.
func sharedWoT(tb testing.TB) string {
	tb.Helper()
	if dir, ok := os.LookupEnv("HEARTH_WOT_DIR"); ok {
		// Override (CI, or a run that must prove the tests skip cleanly).
		if _, err := os.Stat(filepath.Join(dir, "corpus")); err != nil {
			tb.Skipf("W3C WoT reference material not found at HEARTH_WOT_DIR=%s; skipping", dir)
		}
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "wot")
	if _, err := os.Stat(filepath.Join(p, "corpus")); err != nil {
		tb.Skipf("W3C WoT reference material not found at %s (../shared/wot next to the repository); skipping", p)
	}
	return p
}

// corpusFiles returns the JSON files of one corpus folder.
func corpusFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		tb.Fatalf("no corpus files in %s", dir)
	}
	return out
}

func TestCorpusValid(t *testing.T) {
	root := sharedWoT(t)
	for _, folder := range []string{"valid", "notValidYet", "warn"} {
		for name, data := range corpusFiles(t, filepath.Join(root, "corpus", folder)) {
			t.Run(folder+"/"+name, func(t *testing.T) {
				td, err := thing.Parse(data)
				if err != nil {
					t.Fatalf("rejected a valid TD:\n%v", err)
				}
				// A TD linking to a Thing Model must conform to it; a model
				// the loader cannot find is a warning.
				modelErr := thing.CheckModel(t.Context(), td, corpusLoader(root))
				if modelErr != nil && !errors.Is(modelErr, thing.ErrNotFound) {
					t.Errorf("Thing Model check: %v", modelErr)
				}
				warnings := len(td.Warnings())
				if modelErr != nil {
					warnings++
				}
				if folder == "warn" && warnings == 0 {
					t.Errorf("no warning for %s", name)
				}
			})
		}
	}
}

func TestCorpusInvalid(t *testing.T) {
	root := sharedWoT(t)
	for name, data := range corpusFiles(t, filepath.Join(root, "corpus", "invalid")) {
		t.Run(name, func(t *testing.T) {
			td, err := thing.Parse(data)
			if name == "usingTM.json" {
				// Schema-valid: only the Thing Model it links to rejects it.
				if err != nil {
					t.Fatalf("usingTM.json should parse: %v", err)
				}
				err = thing.CheckModel(t.Context(), td, corpusLoader(root))
				if !errors.Is(err, thing.ErrNotConforming) {
					t.Fatalf("want ErrNotConforming, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted an invalid TD")
			}
			if !errors.Is(err, thing.ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			t.Log(err)
		})
	}
}
