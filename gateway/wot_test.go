package gateway_test

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/thing"
)

func TestPropertyReadWrite(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	if got := string(h.must(200, "GET", "/things/urn:test:lamp/properties/brightness", tokFull, "")); got != "50" {
		t.Fatalf("brightness = %s, want 50", got)
	}
	h.must(204, "PUT", "/things/urn:test:lamp/properties/brightness", tokFull, "30")
	if got := string(h.must(200, "GET", "/things/urn:test:lamp/properties/brightness", tokFull, "")); got != "30" {
		t.Fatalf("brightness after write = %s, want 30", got)
	}
	if v := h.ad.Value("urn:test:lamp", "brightness"); v != 30.0 {
		t.Fatalf("adapter holds %v, want 30", v)
	}
	if got := string(h.must(200, "GET", "/things/urn:test:lamp/properties/temperature", tokFull, "")); got != "21.5" {
		t.Fatalf("temperature = %s", got)
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, gateway.Config{MaxBodyBytes: 1024})
	big := "[" + strings.Repeat("1,", 2000) + "1]"
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown thing", "GET", "/things/nope/properties/on", "", 404},
		{"unknown property", "GET", "/things/urn:test:lamp/properties/nope", "", 404},
		{"unknown action", "POST", "/things/urn:test:lamp/actions/nope", "{}", 404},
		{"unknown event", "GET", "/things/urn:test:lamp/events/nope", "", 404},
		{"unknown resource", "GET", "/things/urn:test:lamp/nope", "", 404},
		{"wrong type", "PUT", "/things/urn:test:lamp/properties/brightness", `"bright"`, 400},
		{"not an integer", "PUT", "/things/urn:test:lamp/properties/brightness", `12.5`, 400},
		{"out of range", "PUT", "/things/urn:test:lamp/properties/brightness", `101`, 400},
		{"malformed JSON", "PUT", "/things/urn:test:lamp/properties/brightness", `{"x":`, 400},
		{"trailing data", "PUT", "/things/urn:test:lamp/properties/brightness", `1 2`, 400},
		{"empty body", "PUT", "/things/urn:test:lamp/properties/brightness", ``, 400},
		{"oversized body", "PUT", "/things/urn:test:lamp/properties/brightness", big, 413},
		{"read-only property", "PUT", "/things/urn:test:lamp/properties/temperature", `20`, 405},
		{"wrong method", "POST", "/things/urn:test:lamp/properties/on", `true`, 405},
		{"action input missing", "POST", "/things/urn:test:lamp/actions/fade", ``, 400},
		{"action input invalid", "POST", "/things/urn:test:lamp/actions/fade", `{"brightness": 500, "duration": 1}`, 400},
		{"action input incomplete", "POST", "/things/urn:test:lamp/actions/fade", `{"brightness": 5}`, 400},
		{"multiple: bad value", "PUT", "/things/urn:test:lamp/properties", `{"on": false, "brightness": "x"}`, 400},
		{"multiple: duplicate", "PUT", "/things/urn:test:lamp/properties", `{"on": false, "on": true}`, 400},
		{"multiple: unknown", "PUT", "/things/urn:test:lamp/properties", `{"on": false, "nope": 1}`, 404},
		{"multiple: not an object", "PUT", "/things/urn:test:lamp/properties", `[1]`, 400},
		{"bad offset", "GET", "/things?offset=-1", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := h.do(tt.method, tt.path, tokFull, tt.body)
			if code != tt.want {
				t.Fatalf("status %d, want %d; body %s", code, tt.want, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			decode[map[string]any](t, body)
		})
	}
	// Nothing was applied.
	if h.ad.Writes() != 0 {
		t.Fatalf("%d writes reached the device", h.ad.Writes())
	}
	if got := string(h.must(200, "GET", "/things/urn:test:lamp/properties/brightness", tokFull, "")); got != "50" {
		t.Fatalf("brightness = %s after rejected writes", got)
	}
	if got := string(h.must(200, "GET", "/things/urn:test:lamp/actions", tokFull, "")); got != `{"fade":[],"toggle":[]}` {
		t.Fatalf("actions = %s after rejected requests", got)
	}
}

func TestDeviceErrors(t *testing.T) {
	h := newHarness(t, gateway.Config{DeviceTimeout: 50 * time.Millisecond})
	h.ad.FailWith("urn:test:lamp", "on", errors.New("radio silence"))
	h.ad.FailWith("urn:test:lamp", "brightness", gatewaytest.ErrHang)
	h.ad.FailWith("urn:test:lamp", "temperature", gateway.ErrNotFound)
	h.must(502, "GET", "/things/urn:test:lamp/properties/on", tokFull, "")
	h.must(504, "GET", "/things/urn:test:lamp/properties/brightness", tokFull, "")
	h.must(504, "PUT", "/things/urn:test:lamp/properties/brightness", tokFull, "1")
	h.must(404, "GET", "/things/urn:test:lamp/properties/temperature", tokFull, "")
	h.must(502, "PUT", "/things/urn:test:lamp/properties/on", tokFull, "false")
	b := h.must(502, "GET", "/things/urn:test:lamp/properties/on", tokFull, "")
	if strings.Contains(string(b), "radio silence") {
		t.Fatalf("device error detail leaked to the client: %s", b)
	}
}

func TestNotSupported(t *testing.T) {
	ad := gatewaytest.NewAdapter(lampTD("urn:test:lamp"))
	gw, err := gateway.New(gateway.Config{Authorizer: newAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.AddAdapter(t.Context(), gatewaytest.Minimal(ad)); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, gw: gw}
	h.ts = newTestServer(t, gw)
	h.must(501, "PUT", "/things/urn:test:lamp/properties/on", tokFull, "true")
	h.must(501, "POST", "/things/urn:test:lamp/actions/fade", tokFull, `{"brightness": 1, "duration": 1}`)
	h.must(501, "GET", "/things/urn:test:lamp/properties/on/observable", tokFull, "")
	h.must(501, "GET", "/things/urn:test:lamp/events/overheated", tokFull, "")
	if err := gw.RemoveThing(t.Context(), "urn:test:lamp"); !errors.Is(err, gateway.ErrNotSupported) {
		t.Fatalf("RemoveThing = %v, want ErrNotSupported", err)
	}
	if err := gw.StartPairing(t.Context()); !errors.Is(err, gateway.ErrNotSupported) {
		t.Fatalf("StartPairing = %v, want ErrNotSupported", err)
	}
	// The TD offers only what the adapter can do.
	td, err := thing.Parse(h.must(200, "GET", "/things/urn:test:lamp", tokFull, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(td.Actions) != 0 || len(td.Events) != 0 {
		t.Fatalf("TD offers actions/events the adapter cannot do: %v %v", td.Actions, td.Events)
	}
	if ops := td.Properties["on"].Forms[0].Op.Values; !slices.Equal(ops, []string{"readproperty"}) {
		t.Fatalf("on offers %v, want [readproperty]", ops)
	}
}

func TestAuthorization(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	tests := []struct {
		name, method, path, token, body string
		want                            int
		wwwAuth                         string
	}{
		{"missing token", "GET", "/things/urn:test:lamp/properties/on", "", "", 401, "Bearer"},
		{"unknown token", "GET", "/things/urn:test:lamp/properties/on", "forged", "", 401, `Bearer error="invalid_token"`},
		{"expired token", "GET", "/things/urn:test:lamp/properties/on", tokExpired, "", 401, `Bearer error="invalid_token"`},
		{"other thing", "GET", "/things/urn:test:lamp/properties/on", tokLamp2, "", 403, `Bearer error="insufficient_scope"`},
		{"prefix trick lamp→lamp2", "GET", "/things/urn:test:lamp2/properties/on", tokLamp, "", 403, `Bearer error="insufficient_scope"`},
		{"prefix trick TD", "GET", "/things/urn:test:lamp2", tokLamp, "", 403, `Bearer error="insufficient_scope"`},
		{"other operation", "PUT", "/things/urn:test:lamp/properties/brightness", tokRead, "1", 403, `Bearer error="insufficient_scope"`},
		{"other affordance", "GET", "/things/urn:test:lamp/properties/on", tokRead, "", 403, `Bearer error="insufficient_scope"`},
		{"readall not granted", "GET", "/things/urn:test:lamp/properties", tokRead, "", 403, `Bearer error="insufficient_scope"`},
		{"listing without token", "GET", "/things", "", "", 401, "Bearer"},
		{"unknown thing, no token", "GET", "/things/nope/properties/on", "", "", 401, "Bearer"},
		{"unknown thing TD, no token", "GET", "/things/nope", "", "", 401, "Bearer"},
		{"allowed", "GET", "/things/urn:test:lamp/properties/brightness", tokRead, "", 200, ""},
		{"allowed without scope", "GET", "/things/urn:test:lamp/properties/on", tokNoScope, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := h.do(tt.method, tt.path, tt.token, tt.body)
			if code != tt.want {
				t.Fatalf("status %d, want %d; body %s", code, tt.want, body)
			}
			if got := hdr.Get("WWW-Authenticate"); got != tt.wwwAuth {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.wwwAuth)
			}
			if code == 403 {
				if p := decode[map[string]any](t, body); p["error"] != "insufficient_scope" {
					t.Fatalf("403 body %s lacks error insufficient_scope", body)
				}
			}
		})
	}
	if v := h.ad.Value("urn:test:lamp", "brightness"); v != 50 {
		t.Fatalf("a refused write was applied: %v", v)
	}

	t.Run("authorizer failure", func(t *testing.T) {
		h.auth.FailWith(errors.New("ledger down"))
		defer h.auth.FailWith(nil)
		h.must(503, "GET", "/things/urn:test:lamp/properties/on", tokFull, "")
	})
}

func TestZeroConfig(t *testing.T) {
	gw, err := gateway.New(gateway.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	h := &harness{t: t, gw: gw, ts: newTestServer(t, gw)}
	td, err := thing.Parse(h.must(200, "GET", "/.well-known/wot", "", ""))
	if err != nil {
		t.Fatalf("directory TD: %v", err)
	}
	if td.Security.Values[0] != "bearer_sc" || td.SecurityDefinitions["bearer_sc"].Scheme != "bearer" {
		t.Fatalf("directory security %v", td.Security.Values)
	}
	h.must(401, "GET", "/things", "", "")
	h.must(401, "GET", "/things", "some-token", "")
	h.must(404, "GET", "/", "", "")
}

func TestConfigValidation(t *testing.T) {
	bad := []gateway.Config{
		{MaxBodyBytes: -1},
		{Security: gateway.Security{AuthorizationURL: "https://a/authorize"}},
		{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/things"}},
		{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "relative"}},
		{WebThings: gateway.WebThings{Layout: 7}},
		{AllowedHosts: []string{"bad/host"}},
		{CORS: gateway.CORS{AllowedOrigins: []string{"not an origin"}}},
	}
	for i, cfg := range bad {
		if gw, err := gateway.New(cfg); err == nil {
			gw.Close()
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestThingDescription(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	b := h.must(200, "GET", "/things/urn:test:lamp", tokFull, "")
	td, err := thing.Parse(b)
	if err != nil {
		t.Fatalf("TD does not parse as TD 1.1: %v\n%s", err, b)
	}
	if td.Base != h.ts.URL+"/" {
		t.Errorf("base %q, want %q", td.Base, h.ts.URL+"/")
	}
	if td.Security.Values[0] != "bearer_sc" {
		t.Errorf("security %v", td.Security.Values)
	}
	ops := func(forms []thing.Form) []string {
		var out []string
		for _, f := range forms {
			out = append(out, f.Op.Values...)
		}
		slices.Sort(out)
		return out
	}
	want := map[string][]string{
		"thing":      {"queryallactions", "readallproperties", "readmultipleproperties", "subscribeallevents", "unsubscribeallevents", "writemultipleproperties"},
		"on":         {"observeproperty", "readproperty", "unobserveproperty", "writeproperty"},
		"temp":       {"readproperty"},
		"fade":       {"cancelaction", "invokeaction", "queryaction"},
		"overheated": {"subscribeevent", "unsubscribeevent"},
	}
	got := map[string][]string{
		"thing":      ops(td.Forms),
		"on":         ops(td.Properties["on"].Forms),
		"temp":       ops(td.Properties["temperature"].Forms),
		"fade":       ops(td.Actions["fade"].Forms),
		"overheated": ops(td.Events["overheated"].Forms),
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s ops %v, want %v", k, got[k], w)
		}
	}
	if f := td.Properties["on"].FormFor(thing.OpObserveProperty); f == nil || f.Subprotocol != "sse" || f.Href != "things/urn:test:lamp/properties/on/observable" {
		t.Errorf("observe form %+v", f)
	}
	if f := td.Actions["fade"].FormFor(thing.OpCancelAction); f == nil || string(f.Extensions["htv:methodName"]) != `"DELETE"` {
		t.Errorf("cancel form %+v", f)
	}

	// Trimmed to the token: only readproperty of brightness.
	td, err = thing.Parse(h.must(200, "GET", "/things/urn:test:lamp", tokRead, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(td.Properties) != 1 || td.Properties["brightness"] == nil || len(td.Actions) != 0 || len(td.Events) != 0 || len(td.Forms) != 0 {
		t.Fatalf("trimmed TD shows too much: props %d actions %d events %d forms %d", len(td.Properties), len(td.Actions), len(td.Events), len(td.Forms))
	}
	if got := ops(td.Properties["brightness"].Forms); !slices.Equal(got, []string{"readproperty"}) {
		t.Fatalf("trimmed brightness ops %v", got)
	}
}

func TestForwardedHeaders(t *testing.T) {
	get := func(h *harness) string {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", h.ts.URL+"/things/urn:test:lamp", nil)
		req.Header.Set("Authorization", "Bearer "+tokFull)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "home.example.com")
		req.Header.Set("X-Forwarded-Prefix", "/homes/7")
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var td struct{ Base string }
		if err := jsonDecode(resp, &td); err != nil {
			t.Fatal(err)
		}
		return td.Base
	}
	untrusted := newHarness(t, gateway.Config{})
	if b := get(untrusted); b != untrusted.ts.URL+"/" {
		t.Errorf("untrusted forwarded headers honoured: base %q", b)
	}
	trusted := newHarness(t, gateway.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if b := get(trusted); b != "https://home.example.com/homes/7/" {
		t.Errorf("trusted forwarded headers: base %q", b)
	}
	byRequest := newHarness(t, gateway.Config{TrustForwarded: func(r *http.Request) bool {
		return r.Context().Value(proxiedKey{}) != nil
	}})
	if b := get(byRequest); b != byRequest.ts.URL+"/" {
		t.Errorf("TrustForwarded false, forwarded headers honoured: base %q", b)
	}
	marked := newHarness(t, gateway.Config{TrustForwarded: func(r *http.Request) bool { return true }})
	if b := get(marked); b != "https://home.example.com/homes/7/" {
		t.Errorf("TrustForwarded true: base %q", b)
	}
}

type proxiedKey struct{}

func TestListing(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	ids := func(b []byte) []string {
		var tds []struct{ ID string }
		tds = decode[[]struct{ ID string }](t, b)
		var out []string
		for _, td := range tds {
			out = append(out, td.ID)
		}
		return out
	}
	if got := ids(h.must(200, "GET", "/things", tokFull, "")); !slices.Equal(got, []string{"urn:test:lamp", "urn:test:lamp2"}) {
		t.Fatalf("full listing %v", got)
	}
	if got := ids(h.must(200, "GET", "/things", tokLamp, "")); !slices.Equal(got, []string{"urn:test:lamp"}) {
		t.Fatalf("lamp listing %v", got)
	}
	code, hdr, b := h.do("GET", "/things?limit=1", tokFull, "")
	if code != 200 || !slices.Equal(ids(b), []string{"urn:test:lamp"}) || !strings.Contains(hdr.Get("Link"), `offset=1&limit=1>; rel="next"`) {
		t.Fatalf("page 1: %d %v Link %q", code, ids(b), hdr.Get("Link"))
	}
	code, hdr, b = h.do("GET", "/things?offset=1&limit=1", tokFull, "")
	if code != 200 || !slices.Equal(ids(b), []string{"urn:test:lamp2"}) || hdr.Get("Link") != "" {
		t.Fatalf("page 2: %d %v Link %q", code, ids(b), hdr.Get("Link"))
	}
	// Every listed TD is a valid TD 1.1.
	for _, raw := range decode[[]jsonRaw](t, h.must(200, "GET", "/things", tokFull, "")) {
		if _, err := thing.Parse(raw); err != nil {
			t.Fatalf("listed TD invalid: %v", err)
		}
	}
}

func TestReadWriteMultiple(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	got := decode[map[string]any](t, h.must(200, "GET", "/things/urn:test:lamp/properties", tokFull, ""))
	if got["on"] != true || got["brightness"] != 50.0 || got["temperature"] != 21.5 {
		t.Fatalf("readallproperties %v", got)
	}
	got = decode[map[string]any](t, h.must(200, "GET", "/things/urn:test:lamp/properties?name=on&name=brightness", tokFull, ""))
	if len(got) != 2 || got["on"] != true {
		t.Fatalf("readmultipleproperties %v", got)
	}
	h.must(404, "GET", "/things/urn:test:lamp/properties?name=on,nope", tokFull, "")
	h.must(204, "PUT", "/things/urn:test:lamp/properties", tokFull, `{"on": false, "brightness": 10}`)
	if h.ad.Value("urn:test:lamp", "on") != false || h.ad.Value("urn:test:lamp", "brightness") != 10.0 {
		t.Fatalf("writemultipleproperties not applied")
	}
	h.must(405, "PUT", "/things/urn:test:lamp/properties", tokFull, `{"on": true, "temperature": 3}`)
	if h.ad.Value("urn:test:lamp", "on") != false {
		t.Fatalf("a rejected writemultipleproperties was partly applied")
	}
}

func TestHostCheck(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	for host, want := range map[string]int{
		"evil.example.com":    421,
		"localhost":           200,
		"gateway.local:80":    200,
		"192.168.1.4":         200,
		"[::1]:8080":          200,
		"rebind.attacker.tld": 421,
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", h.ts.URL+"/.well-known/wot", nil)
		req.Host = host
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	strict := newHarness(t, gateway.Config{AllowedHosts: []string{"gw.example.com", "*.home.example"}})
	for host, want := range map[string]int{"gw.example.com": 200, "a.home.example": 200, "127.0.0.1": 421, "localhost": 421} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", strict.ts.URL+"/.well-known/wot", nil)
		req.Host = host
		resp, err := strict.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("strict Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, gateway.Config{CORS: gateway.CORS{AllowedOrigins: []string{"https://app.example.com"}}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), "OPTIONS", h.ts.URL+"/things/urn:test:lamp/properties/on", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("https://app.example.com")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("allowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got CORS headers")
	}
	// A cross-origin WebSocket from a page CORS does not allow is refused.
	gw := h.gw
	_ = gw
}

func TestSecurityDescribed(t *testing.T) {
	h := newHarness(t, gateway.Config{Security: gateway.Security{
		AuthorizationURL: "https://home.example/oauth/authorize",
		TokenURL:         "https://home.example/oauth/token",
		Scopes:           []string{"things"},
	}})
	for _, path := range []string{"/.well-known/wot", lamp} {
		td, err := thing.Parse(h.must(200, "GET", path, tokFull, ""))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		sc := td.SecurityDefinitions[td.Security.Values[0]]
		if sc == nil || sc.Scheme != "oauth2" || sc.Flow != "code" || sc.Authorization != "https://home.example/oauth/authorize" || sc.Token != "https://home.example/oauth/token" {
			t.Fatalf("%s: security %+v", path, sc)
		}
	}
}
