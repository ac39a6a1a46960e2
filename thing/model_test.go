package thing_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// playground is where the corpus documents live upstream; the corpus TDs
// and TMs link to each other with these URLs.
const playground = "https://raw.githubusercontent.com/eclipse-thingweb/playground/master/packages/core/examples/tms/"

// corpusLoader serves the corpus Thing Models under their upstream URLs
// and nothing else: the tests never touch the network.
func corpusLoader(root string) thing.Loader {
	return thing.LoaderFunc(func(_ context.Context, uri string) ([]byte, error) {
		rest, ok := strings.CutPrefix(uri, playground)
		if !ok || strings.Contains(rest, "..") {
			return nil, fmt.Errorf("%w: %s", thing.ErrNotFound, uri)
		}
		data, err := os.ReadFile(filepath.Join(root, "corpus", "tm", filepath.FromSlash(rest)))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", thing.ErrNotFound, uri)
		}
		return data, err
	})
}

func TestCorpusModelsValid(t *testing.T) {
	root := sharedWoT(t)
	l := corpusLoader(root)
	for name, data := range corpusFiles(t, filepath.Join(root, "corpus", "tm", "valid")) {
		t.Run(name, func(t *testing.T) {
			if !thing.IsModel(data) {
				t.Error("not recognised as a Thing Model")
			}
			m, err := thing.ParseModel(data)
			if err != nil {
				t.Fatalf("rejected a valid TM:\n%v", err)
			}
			if _, warns, err := m.WithURL(playground+"valid/"+name).Resolve(t.Context(), l); err != nil {
				t.Fatalf("resolve: %v", err)
			} else if len(warns) > 0 {
				t.Logf("warnings: %v", warns)
			}
			if _, err := thing.Parse(data); !errors.Is(err, thing.ErrThingModel) {
				t.Errorf("Parse of a TM: want ErrThingModel, got %v", err)
			}
		})
	}
}

func TestCorpusModelsInvalid(t *testing.T) {
	root := sharedWoT(t)
	l := corpusLoader(root)
	for name, data := range corpusFiles(t, filepath.Join(root, "corpus", "tm", "invalid")) {
		t.Run(name, func(t *testing.T) {
			m, err := thing.ParseModel(data)
			if err == nil {
				_, _, err = m.WithURL(playground+"invalid/"+name).Resolve(t.Context(), l)
			}
			if err == nil {
				t.Fatal("accepted an invalid TM")
			}
			t.Log(err)
		})
	}
}

// TestCorpusUsingTM checks the TDs that link to a Thing Model against it,
// through the corpus loader.
func TestCorpusUsingTM(t *testing.T) {
	root := sharedWoT(t)
	l := corpusLoader(root)
	cases := []struct {
		file string
		want error // nil, ErrNotConforming, or ErrNotFound (a warning)
	}{
		{"invalid/usingTM.json", thing.ErrNotConforming},
		{"valid/usingTM.json", nil},
		{"valid/usingRecursiveTM.json", nil},
		{"valid/fromTM.json", nil},
		{"warn/unavailableDirectTm.json", thing.ErrNotFound},
		{"warn/unavailableRecursiveTm.json", thing.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, "corpus", filepath.FromSlash(c.file)))
			if err != nil {
				t.Fatal(err)
			}
			td, err := thing.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			err = thing.CheckModel(t.Context(), td, l)
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("want conformance, got %v", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("want %v, got %v", c.want, err)
			}
			if errors.Is(c.want, thing.ErrNotConforming) {
				var ve *thing.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("no ValidationError in %v", err)
				}
				t.Log(err)
			}
		})
	}
}

func TestInstantiate(t *testing.T) {
	m, err := thing.ParseModel([]byte(`{
		"@context": ["https://www.w3.org/2022/wot/td/v1.1"],
		"@type": "tm:ThingModel",
		"title": "Thermostat No. {{NUMBER}}",
		"version": {"model": "1.0.0"},
		"base": "mqtt://{{BROKER}}",
		"tm:optional": ["/actions/reset"],
		"properties": {
			"temperature": {
				"type": "number",
				"minimum": -20,
				"maximum": "{{MAX}}",
				"observable": "{{OBSERVABLE}}",
				"readOnly": true
			},
			"target": {"tm:ref": "#/properties/temperature", "readOnly": false, "description": "setpoint"}
		},
		"actions": {"reset": {}, "boost": {"input": {"type": "integer"}}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Placeholders(), ","); got != "BROKER,MAX,NUMBER,OBSERVABLE" {
		t.Errorf("placeholders = %s", got)
	}
	_, err = m.Instantiate(t.Context(), thing.Instance{})
	if !errors.Is(err, thing.ErrPlaceholder) {
		t.Fatalf("missing placeholders: want ErrPlaceholder, got %v", err)
	}
	td, err := m.WithURL("https://models.example.com/thermostat.tm.json").Instantiate(t.Context(), thing.Instance{
		ID:           "urn:dev:thermostat-7",
		Placeholders: map[string]any{"NUMBER": 7, "BROKER": "broker.local", "MAX": 35, "OBSERVABLE": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	temp := td.Properties["temperature"]
	if td.Title != "Thermostat No. 7" || td.Base != "mqtt://broker.local" || td.ID != "urn:dev:thermostat-7" {
		t.Errorf("title/base/id = %q %q %q", td.Title, td.Base, td.ID)
	}
	if temp.Maximum == nil || *temp.Maximum != 35 || !temp.Observable {
		t.Errorf("temperature = %+v", temp.DataSchema)
	}
	target := td.Properties["target"]
	if target == nil || target.Type != "number" || target.ReadOnly || target.Description != "setpoint" || target.Extensions["tm:ref"] != nil {
		t.Errorf("tm:ref not resolved with overrides: %+v", target)
	}
	if _, kept := td.Actions["reset"]; kept {
		t.Error("optional action kept without being asked for")
	}
	if td.Actions["boost"] == nil || len(td.Actions["boost"].Forms) != 1 {
		t.Errorf("boost = %+v", td.Actions["boost"])
	}
	if td.Version == nil || td.Version.Instance != "1.0.0" {
		t.Errorf("version = %+v", td.Version)
	}
	if len(td.Links) != 1 || td.Links[0].Rel != "type" || td.Links[0].Href != "https://models.example.com/thermostat.tm.json" {
		t.Errorf("links = %+v", td.Links)
	}
	for _, ty := range td.Type.Values {
		if ty == "tm:ThingModel" {
			t.Error("tm:ThingModel left in @type")
		}
	}
	// The instance conforms to its model.
	if err := m.Check(td); err != nil {
		t.Errorf("instance does not conform: %v", err)
	}
	withReset, err := m.Instantiate(t.Context(), thing.Instance{
		Placeholders: map[string]any{"NUMBER": "8", "BROKER": "b", "MAX": 30.5, "OBSERVABLE": false},
		Optional:     []string{"/actions/reset"},
	})
	if err != nil || withReset.Actions["reset"] == nil {
		t.Errorf("optional action not kept: %v", err)
	}
}

func TestInstantiateExtends(t *testing.T) {
	l := thing.MapLoader{
		"https://models.example.com/base.json": []byte(`{
			"@context": "https://www.w3.org/2022/wot/td/v1.1", "@type": "tm:ThingModel",
			"title": "Base", "properties": {"on": {"type": "boolean"}, "level": {"type": "integer", "maximum": 100}}}`),
	}
	child := []byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1", "@type": "tm:ThingModel", "title": "Child",
		"links": [{"rel": "tm:extends", "href": "base.json", "type": "application/tm+json"}],
		"properties": {"level": {"maximum": 80}}}`)
	m, err := thing.ParseModel(child)
	if err != nil {
		t.Fatal(err)
	}
	m = m.WithURL("https://models.example.com/child.json")
	if _, err := m.Instantiate(t.Context(), thing.Instance{}); !errors.Is(err, thing.ErrNoLoader) {
		t.Fatalf("without a loader: want ErrNoLoader, got %v", err)
	}
	td, err := m.Instantiate(t.Context(), thing.Instance{Loader: l})
	if err != nil {
		t.Fatal(err)
	}
	if td.Title != "Child" || td.Properties["on"] == nil || *td.Properties["level"].Maximum != 80 || td.Properties["level"].Type != "integer" {
		t.Errorf("extends not merged: %+v", td.Properties["level"])
	}
	for _, link := range td.Links {
		if link.Rel == "tm:extends" {
			t.Error("tm:extends link left in the TD")
		}
	}
	// A missing parent declared as a TM is an error.
	if _, err := m.WithURL("https://elsewhere.example.com/child.json").Instantiate(t.Context(), thing.Instance{Loader: l}); !errors.Is(err, thing.ErrNotFound) {
		t.Errorf("missing parent: want ErrNotFound, got %v", err)
	}
}
