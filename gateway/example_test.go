package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// thermometer is a vendor's device: it describes itself and answers reads.
type thermometer struct{ td *thing.Description }

func (t thermometer) Things(context.Context) ([]*thing.Description, error) {
	return []*thing.Description{t.td}, nil
}

func (t thermometer) ReadProperty(_ context.Context, id, name string) (any, error) {
	if id == t.td.ID && name == "temperature" {
		return 21.5, nil
	}
	return nil, gateway.ErrNotFound
}

// A vendor exposes one device: describe it, answer for it, serve it.
func Example() {
	td := thing.New("urn:example:thermometer", "Thermometer").
		Property("temperature", thing.Number().Unit("degree celsius").ReadOnly()).
		MustBuild()
	auth := gatewaytest.NewAuthorizer() // in production: a consent ledger
	auth.Add("s3cret", gatewaytest.Grant{Rules: []gatewaytest.Rule{{ThingID: td.ID, Op: thing.OpReadProperty, Name: "temperature"}}})

	gw, err := gateway.New(gateway.Config{Authorizer: auth})
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	gw.AddAdapter(context.Background(), thermometer{td})
	srv := httptest.NewServer(gw) // in production: gateway.RecommendedHTTPServer
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/things/urn:example:thermometer/properties/temperature", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 21.5
}

// A gateway serving simulated devices from gateway/virtual; each token sees
// only the things it was granted.
func Example_virtual() {
	devices := virtual.New(virtual.Config{})
	defer devices.Close()
	devices.Add(
		virtual.NewDimmableLight("urn:example:light", "Living room light"),
		virtual.NewSmartPlug("urn:example:plug", "Kettle plug", virtual.SmartPlugOptions{}),
	)
	auth := gatewaytest.NewAuthorizer()
	auth.Add("guest", gatewaytest.Grant{ID: "g1", Rules: []gatewaytest.Rule{
		{ThingID: "urn:example:light", Op: gatewaytest.Any, Name: gatewaytest.Any},
	}})
	gw, _ := gateway.New(gateway.Config{Authorizer: auth})
	defer gw.Close()
	gw.AddAdapter(context.Background(), devices)
	srv := httptest.NewServer(gw)
	defer srv.Close()

	get := func(path string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer guest")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", strings.TrimSpace(string(b)))
	}
	fmt.Println(len(gw.Things()), "things served")
	fmt.Println(get("/things/urn:example:light/properties/brightness"))
	fmt.Println(get("/things/urn:example:plug/properties/on")[:3])
	// Output:
	// 2 things served
	// 200 100
	// 403
}
