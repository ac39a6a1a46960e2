package thing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hearth-wot/hearth/thing"
)

func ExampleParse() {
	td, err := thing.Parse([]byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"id": "urn:example:lamp",
		"title": "Lamp",
		"base": "http://lamp.local/",
		"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
		"security": "nosec_sc",
		"properties": {
			"on": {
				"type": "boolean",
				"forms": [{"href": "props/on", "htv:methodName": "GET"}]
			}
		}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	on := td.Properties["on"]
	f := on.FormFor(thing.OpReadProperty)
	fmt.Println(td.Title, on.Type, f.Href, f.EffectiveContentType())
	fmt.Println(string(f.Extensions["htv:methodName"]))
	// Output:
	// Lamp boolean props/on application/json
	// "GET"
}

func ExampleParse_invalid() {
	_, err := thing.Parse([]byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"title": "Lamp",
		"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
		"security": "basic_sc",
		"properties": {"on": {"type": "bool", "forms": []}}
	}`))
	var ve *thing.ValidationError
	fmt.Println(errors.Is(err, thing.ErrInvalid), errors.As(err, &ve))
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fmt.Println(e)
	}
	// Output:
	// true true
	// thing: /properties/on/forms: must not be empty
	// thing: /properties/on/type: "bool" is not a data schema type
	// thing: /security: "basic_sc" is not defined in securityDefinitions
}

func ExampleNew() {
	td, err := thing.New("urn:example:lamp", "Lamp").
		Base("http://lamp.local/").
		Property("on", thing.Boolean().Title("Power").Observable()).
		Property("brightness", thing.Integer().Range(0, 100).Unit("percent")).
		Action("fade", thing.NewAction().Input(thing.Object().
			Prop("level", thing.Integer().Range(0, 100)).
			Prop("seconds", thing.Number().Min(0)).
			Required("level"))).
		Event("overheated", thing.NewEvent().Data(thing.Number().Unit("celsius"))).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(td.Properties["on"].Forms[0].Op.Values)
	out, _ := json.Marshal(td.Properties["brightness"])
	fmt.Println(string(out))
	// Output:
	// [readproperty writeproperty observeproperty unobserveproperty]
	// {"type":"integer","unit":"percent","minimum":0,"maximum":100,"forms":[{"href":"properties/brightness","op":["readproperty","writeproperty"]}]}
}

func ExampleCompile() {
	brightness := thing.Integer().Range(0, 100).Unit("percent").Schema()
	s, err := thing.Compile(brightness)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ValidateJSON([]byte(`42`)))
	fmt.Println(s.ValidateJSON([]byte(`142`)))
	fmt.Println(s.Validate("bright"))
	err = s.ValidateJSON([]byte(`4.5`))
	fmt.Println(errors.Is(err, thing.ErrInvalidValue))
	// Output:
	// <nil>
	// thing: value must be at most 100
	// thing: value must be an integer
	// true
}

func ExampleDescription_ResolveForm() {
	td, err := thing.Parse([]byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"title": "Weather station",
		"base": "http://station.local/api/",
		"securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
		"security": "nosec_sc",
		"properties": {
			"forecast": {
				"uriVariables": {"days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3}},
				"forms": [{"href": "forecast{?days}"}]
			}
		}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := td.Properties["forecast"]
	f := p.FormFor(thing.OpReadProperty)
	u, _ := td.ResolveForm(f, p.URIVariables, map[string]any{"days": 5})
	fmt.Println(u)
	u, _ = td.ResolveForm(f, p.URIVariables, nil) // the schema's default
	fmt.Println(u)
	// Output:
	// http://station.local/api/forecast?days=5
	// http://station.local/api/forecast?days=3
}

func ExampleModel_Instantiate() {
	m, err := thing.ParseModel([]byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		"@type": "tm:ThingModel",
		"title": "Lamp {{N}}",
		"tm:optional": ["/actions/blink"],
		"properties": {"brightness": {"type": "integer", "minimum": 0, "maximum": "{{MAX}}"}},
		"actions": {"blink": {}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Placeholders())
	td, err := m.WithURL("https://models.example.com/lamp.tm.json").Instantiate(context.Background(), thing.Instance{
		ID:           "urn:dev:lamp-3",
		Placeholders: map[string]any{"N": 3, "MAX": 255},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(td.Title, *td.Properties["brightness"].Maximum, len(td.Actions), td.Links[0].Rel)
	// Output:
	// [MAX N]
	// Lamp 3 255 0 type
}
