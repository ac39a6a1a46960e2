package thing_test

import (
	"errors"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

func TestResolveForm(t *testing.T) {
	td, err := thing.Parse([]byte(`{
		"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "Weather",
		"base": "https://api.example.com/v2/",
		"securityDefinitions": {"key": {"scheme": "apikey", "in": "uri", "name": "apiKey"}, "none": {"scheme": "nosec"}},
		"security": "key",
		"uriVariables": {"units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"}},
		"properties": {
			"weather": {
				"uriVariables": {
					"lat": {"type": "number", "minimum": -90, "maximum": 90},
					"lon": {"type": "number", "minimum": -180, "maximum": 180},
					"units": {"type": "string", "default": "imperial"}
				},
				"forms": [{"href": "{apiKey}/weather{?lat,lon,units}"}]
			},
			"absolute": {"forms": [{"href": "coap://[::1]/x", "security": "none"}]}
		},
		"forms": [{"href": "all", "op": "readallproperties", "security": ["none"]}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := td.Properties["weather"]
	u, err := td.ResolveForm(p.FormFor(thing.OpReadProperty), p.URIVariables, map[string]any{"lat": 48.1, "lon": 11.5, "apiKey": "s3cr/t"})
	if err != nil {
		t.Fatal(err)
	}
	// Expanded before resolution; the affordance's default for units wins
	// over the Thing's.
	if want := "https://api.example.com/v2/s3cr%2Ft/weather?lat=48.1&lon=11.5&units=imperial"; u.String() != want {
		t.Errorf("got  %s\nwant %s", u, want)
	}
	// Values are checked against the uriVariables schemas.
	if _, err := td.ResolveForm(p.FormFor(thing.OpReadProperty), p.URIVariables, map[string]any{"lat": 91.0}); !errors.Is(err, thing.ErrInvalidValue) {
		t.Errorf("out-of-range latitude: want ErrInvalidValue, got %v", err)
	}
	if u, err := td.ResolveForm(td.FormFor(thing.OpReadAllProperties), nil, nil); err != nil || u.String() != "https://api.example.com/v2/all" {
		t.Errorf("root form: %v %v", u, err)
	}
	if u, err := td.ResolveForm(&td.Properties["absolute"].Forms[0], nil, nil); err != nil || u.String() != "coap://[::1]/x" {
		t.Errorf("absolute href: %v %v", u, err)
	}
}

func TestResolveFormBase(t *testing.T) {
	noBase := thing.New("urn:x", "X").Property("p", thing.Integer()).MustBuild()
	f := &noBase.Properties["p"].Forms[0]
	if _, err := noBase.ResolveForm(f, nil, nil); !errors.Is(err, thing.ErrNoBase) {
		t.Errorf("no base: want ErrNoBase, got %v", err)
	}
	u, err := noBase.ResolveFormFrom("http://192.168.1.5:8080/things/lamp", f, nil, nil)
	if err != nil || u.String() != "http://192.168.1.5:8080/things/properties/p" {
		t.Errorf("retrieval URL: %v %v", u, err)
	}
	relBase := thing.New("urn:x", "X").Base("lamp/").Property("p", thing.Integer()).MustBuild()
	u, err = relBase.ResolveFormFrom("http://gw.local/things/", &relBase.Properties["p"].Forms[0], nil, nil)
	if err != nil || u.String() != "http://gw.local/things/lamp/properties/p" {
		t.Errorf("relative base: %v %v", u, err)
	}
}
