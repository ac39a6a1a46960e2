package thing_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

func TestBuilder(t *testing.T) {
	b := thing.New("urn:dev:lamp-1", "Lamp").
		Describe("A dimmable lamp").
		Type("saref:LightSwitch").
		Prefix("saref", "https://w3id.org/saref#").
		Version("1.0.0").
		Security("bearer_sc", thing.BearerToken("https://auth.example.com/")).
		Property("on", thing.Boolean().Observable()).
		Property("brightness", thing.Integer().Range(0, 100).Unit("percent").Href("b")).
		Property("model", thing.String().ReadOnly()).
		Property("secret", thing.String().WriteOnly()).
		Action("fade", thing.NewAction().Input(thing.Integer()).Idempotent()).
		Event("overheated", nil)
	td, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := td.Properties["model"].Forms[0].Op.Values; len(got) != 1 || got[0] != thing.OpReadProperty {
		t.Errorf("readOnly ops = %v", got)
	}
	if got := td.Properties["secret"].Forms[0].Op.Values; len(got) != 1 || got[0] != thing.OpWriteProperty {
		t.Errorf("writeOnly ops = %v", got)
	}
	if td.Properties["brightness"].Forms[0].Href != "b" {
		t.Error("Href ignored")
	}
	if td.Security.Values[0] != "bearer_sc" || td.SecurityDefinitions["bearer_sc"].EffectiveFormat() != "jwt" {
		t.Errorf("security = %+v", td.Security)
	}
	// The built TD survives JSON and parses.
	out, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	back, err := thing.Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Context.Entries[1].Terms["saref"] == nil || back.Actions["fade"].Input.Type != "integer" {
		t.Errorf("lost in round trip: %s", out)
	}
	// Building again gives an independent copy.
	td2 := b.MustBuild()
	td2.Properties["on"].Title = "changed"
	if td.Properties["on"].Title != "" {
		t.Error("Build results share properties")
	}
}

func TestBuilderErrors(t *testing.T) {
	_, err := thing.New("urn:x", "X").Property("p", thing.Integer()).Property("p", thing.String()).Build()
	if err == nil {
		t.Error("duplicate property accepted")
	}
	_, err = thing.New("not a uri", "").Build()
	if !errors.Is(err, thing.ErrInvalid) {
		t.Errorf("invalid TD built: %v", err)
	}
	_, err = thing.New("urn:x", "X").Property("p", thing.Integer().Enum()).Build()
	if !errors.Is(err, thing.ErrInvalid) {
		t.Errorf("empty enum built: %v", err)
	}
}
