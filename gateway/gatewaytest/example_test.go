package gatewaytest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/thing"
)

// An Authorizer of static tokens stands in for a consent ledger: each
// token is a Grant, and Revoke makes its tokens fail and tells the
// revocation subscribers (a gateway closes the streams opened with them).
func ExampleAuthorizer() {
	auth := gatewaytest.NewAuthorizer()
	auth.Add("guest-token", gatewaytest.Grant{
		ID:      "g-1",
		Subject: "guest-7",
		Rules:   []gatewaytest.Rule{{ThingID: "urn:example:lamp", Op: thing.OpReadProperty, Name: gatewaytest.Any}},
	})
	cancel := auth.SubscribeRevocations(func(r access.Revocation) { fmt.Println("revoked:", r.GrantID) })
	defer cancel()

	ask := func(thingID string) {
		d, err := auth.Authorize(context.Background(), "guest-token", access.Request{ThingID: thingID, Op: thing.OpReadProperty, Name: "on"})
		fmt.Printf("%s: allow=%v subject=%q invalid-token=%v\n", thingID, d.Allow, d.Subject, errors.Is(err, access.ErrInvalidToken))
	}
	ask("urn:example:lamp")
	ask("urn:example:lamp2") // whole ids: no prefix matching
	auth.Revoke("g-1")
	ask("urn:example:lamp")
	// Output:
	// urn:example:lamp: allow=true subject="guest-7" invalid-token=false
	// urn:example:lamp2: allow=false subject="guest-7" invalid-token=false
	// revoked: g-1
	// urn:example:lamp: allow=false subject="" invalid-token=true
}

// An in-memory Adapter behind a real gateway: the test sets what the
// device reports and decides what its actions do.
func ExampleAdapter() {
	td := thing.New("urn:example:lamp", "Lamp").
		Property("on", thing.Boolean()).
		Action("toggle", thing.NewAction().Synchronous(true).Output(thing.Boolean())).
		MustBuild()
	ad := gatewaytest.NewAdapter(td)
	ad.Set(td.ID, "on", false)
	ad.Handle(td.ID, "toggle", func(ctx context.Context, _ any) (any, error) {
		ad.Set(td.ID, "on", true) // as the device would report it
		return true, nil
	})

	gw, err := gateway.New(gateway.Config{Authorizer: gateway.InsecureAllowAll()})
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	if err := gw.AddAdapter(context.Background(), ad); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	do := func(method, path string) {
		req, _ := http.NewRequest(method, srv.URL+"/things/urn:example:lamp"+path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(method, path, resp.StatusCode, string(b))
	}
	do("GET", "/properties/on")
	do("POST", "/actions/toggle")
	do("GET", "/properties/on")
	fmt.Println("writes through the gateway:", ad.Writes())
	// Output:
	// GET /properties/on 200 false
	// POST /actions/toggle 200 true
	// GET /properties/on 200 true
	// writes through the gateway: 0
}
