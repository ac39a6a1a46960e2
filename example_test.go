package hearth_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// The README's tour: describe a device, check a value, serve devices
// through a gateway, and let a consent ledger decide every access.
func Example_tour() {
	ctx := context.Background()

	// 1. Describe a device.
	td := thing.New("urn:example:lamp", "My Lamp").
		Property("on", thing.Boolean().Observable()).
		Property("brightness", thing.Integer().Range(0, 100).Unit("percent")).
		Action("fade", thing.NewAction().Input(thing.Object().
			Prop("level", thing.Integer().Range(0, 100)).
			Prop("seconds", thing.Number().Min(0)).
			Required("level"))).
		Event("overheated", thing.NewEvent().Data(thing.Number().Unit("celsius"))).
		MustBuild()
	brightness := thing.MustCompile(&td.Properties["brightness"].DataSchema)
	fmt.Println("150 is a brightness:", brightness.ValidateJSON([]byte(`150`)) == nil)

	// 2. Ask the person whose data it is: a consent ledger.
	ledger, err := consent.New(ctx, consent.Config{
		Issuer:   "https://home.example/auth",
		Purposes: []consent.Purpose{{ID: "comfort", Description: "Control the lights of your holiday home."}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()

	// 3. Serve devices through a gateway that asks the ledger before every access.
	gw, err := gateway.New(gateway.Config{Authorizer: ledger})
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	devices := virtual.New(virtual.Config{})
	defer devices.Close()
	devices.Add(virtual.NewLight("urn:home:lamp", "Lamp"))
	if err := gw.AddAdapter(ctx, devices); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(gw) // in production: gateway.RecommendedHTTPServer(addr, gw)
	defer srv.Close()

	// 4. The guest grants an app read access to one lamp, then withdraws it.
	g, _ := ledger.Grant(ctx, consent.GrantRequest{
		Subject: "guest-7f3a", Holder: "guest-app", Purpose: "comfort",
		Scopes: []consent.Scope{{Thing: "urn:home:lamp", Ops: []string{thing.OpReadProperty}}},
	})
	tok, _ := ledger.IssueTokens(ctx, g.ID, consent.TokenOptions{})
	read := func() string {
		req, _ := http.NewRequest("GET", srv.URL+"/things/urn:home:lamp/properties/on", nil)
		req.Header.Set("Authorization", "Bearer "+string(tok.AccessToken))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	fmt.Println("granted:", read())
	ledger.Revoke(ctx, g.ID)
	fmt.Println("revoked:", read()[:3])
	// Output:
	// 150 is a brightness: false
	// granted: 200 false
	// revoked: 401
}
