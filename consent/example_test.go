package consent_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// Issue a grant and a token for it programmatically, and check the token
// the way a gateway does.
func Example() {
	ctx := context.Background()
	l, err := consent.New(ctx, consent.Config{
		Issuer: "https://home.example/auth",
		Purposes: []consent.Purpose{{
			ID:          "comfort",
			Description: "Control the lights of your holiday home.",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	// The guest consents: the guest app may read and switch the lamp for
	// a week.
	g, err := l.Grant(ctx, consent.GrantRequest{
		Subject: "guest-7f3a", // a pseudonymous id, never a name
		Holder:  "guest-app",
		Purpose: "comfort",
		Scopes: []consent.Scope{{
			Thing: "urn:home:lamp",
			Ops:   []string{thing.OpReadProperty, thing.OpWriteProperty},
		}},
		Duration: 7 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := l.IssueTokens(ctx, g.ID, consent.TokenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token:", tok.AccessToken) // a Secret prints redacted
	fmt.Println("scope:", tok.Scope)

	check := func(thingID string) {
		d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: thingID, Op: thing.OpReadProperty, Name: "on"})
		fmt.Printf("read %s: allow=%v err=%v\n", thingID, d.Allow, err)
	}
	check("urn:home:lamp")
	check("urn:home:lamp2") // whole-segment matching: no prefix tricks

	// The guest withdraws consent: the token stops working at once.
	if err := l.Revoke(ctx, g.ID); err != nil {
		log.Fatal(err)
	}
	_, err = l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "urn:home:lamp", Op: thing.OpReadProperty, Name: "on"})
	fmt.Println("after revoke:", errors.Is(err, access.ErrInvalidToken), errors.Is(err, consent.ErrRevoked))
	// Output:
	// token: [REDACTED]
	// scope: urn%3Ahome%3Alamp:readproperty,writeproperty
	// read urn:home:lamp: allow=true err=<nil>
	// read urn:home:lamp2: allow=false err=<nil>
	// after revoke: true true
}

// Wire a Ledger into a gateway.Server: the ledger authorizes every
// request, tells the gateway about revocations (so it closes streams) and
// which histories it may record, and serves the data subject's export and
// erasure of the gateway's history.
func Example_gateway() {
	ctx := context.Background()
	l, err := consent.New(ctx, consent.Config{
		Issuer: "https://home.example/auth",
		Purposes: []consent.Purpose{
			{ID: "comfort", Description: "Control the lights of your holiday home."},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	history := gateway.NewHistory(gateway.HistoryConfig{})
	l.RegisterExporter("history", history)
	l.RegisterEraser("history", history)

	gw, err := gateway.New(gateway.Config{Authorizer: l, History: history})
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	devices := virtual.New(virtual.Config{})
	defer devices.Close()
	devices.Add(virtual.NewLight("urn:home:lamp", "Lamp"), virtual.NewLight("urn:home:lamp2", "Other lamp"))
	if err := gw.AddAdapter(ctx, devices); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	g, _ := l.Grant(ctx, consent.GrantRequest{
		Subject: "guest-7f3a", Holder: "guest-app", Purpose: "comfort",
		Scopes: []consent.Scope{{Thing: "urn:home:lamp", Ops: []string{thing.OpReadProperty}}},
	})
	tok, _ := l.IssueTokens(ctx, g.ID, consent.TokenOptions{})
	get := func(path string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+string(tok.AccessToken))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("lamp:", get("/things/urn:home:lamp/properties/on"))
	fmt.Println("lamp2:", get("/things/urn:home:lamp2/properties/on"))
	l.Revoke(ctx, g.ID)
	fmt.Println("lamp after revoke:", get("/things/urn:home:lamp/properties/on"))
	// Output:
	// lamp: 200
	// lamp2: 403
	// lamp after revoke: 401
}

// Mount the OAuth endpoints, consent page and grants API under a prefix
// of the server that also serves the gateway.
func ExampleNewHandler() {
	ctx := context.Background()
	l, err := consent.New(ctx, consent.Config{
		Issuer:   "https://home.example/auth",
		Purposes: []consent.Purpose{{ID: "comfort", Description: "Control the lights of your holiday home."}},
		Clients: []consent.Client{{
			ID: "guest-app", Name: "Guest App",
			RedirectURIs: []string{"https://guest.home.example/callback"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	h, err := consent.NewHandler(l, consent.HandlerConfig{
		// Who is signed in is the embedder's business: here, a session
		// cookie set by the guest web app's own login.
		Authenticator: consent.AuthenticatorFunc(func(r *http.Request) (string, error) {
			c, err := r.Cookie("guest")
			if err != nil {
				return "", consent.ErrUnauthenticated
			}
			return c.Value, nil
		}),
		Title: "Holiday Home",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", h))
	// mux.Handle("/", gatewayServer)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/.well-known/oauth-authorization-server", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/consents", nil))
	fmt.Println(rec.Code) // nobody signed in
	// Output:
	// 200 application/json
	// 401
}

// A data subject (or an auditor) checks a consent receipt with nothing but
// the audit log's public key.
func ExampleVerifier_Receipt() {
	ctx := context.Background()
	l, _ := consent.New(ctx, consent.Config{
		Issuer:     "https://home.example/auth",
		Controller: consent.Controller{Name: "Seaside Holiday Homes", Email: "privacy@seaside.example"},
		Purposes:   []consent.Purpose{{ID: "comfort", Description: "Control the lights of your holiday home."}},
	})
	defer l.Close()
	g, _ := l.Grant(ctx, consent.GrantRequest{
		Subject: "guest-7f3a", Holder: "guest-app", Purpose: "comfort",
		Scopes: []consent.Scope{{Thing: "urn:home:lamp", Ops: []string{thing.OpReadProperty}}},
	})
	receipt, _ := l.Receipt(ctx, g.ID)

	v, err := consent.NewVerifier(l.AuditVerifierKey())
	if err != nil {
		log.Fatal(err)
	}
	r, err := v.Receipt(receipt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.PIIControllers[0].Name)
	fmt.Println(r.Services[0].Service, r.Services[0].Purposes[0].Purpose, r.Services[0].Purposes[0].PIICategory)
	fmt.Println("in the audit log at", r.Proof.Index)

	// A receipt that claims more than was consented does not verify.
	tampered := []byte(string(receipt[:len(receipt)/2]) + "X" + string(receipt[len(receipt)/2+1:]))
	_, err = v.Receipt(tampered)
	fmt.Println(errors.Is(err, consent.ErrVerify))
	// Output:
	// Seaside Holiday Homes
	// guest-app comfort [urn%3Ahome%3Alamp:readproperty]
	// in the audit log at 0
	// true
}
