package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hearth-wot/hearth/gateway"
)

// TestCrossSiteRequestsRefused: a state-changing request a browser sends
// from another site without a preflight (a text/plain POST) is refused
// before anything runs, even under InsecureAllowAll, unless CORS allows
// the origin; same-origin, non-browser and safe requests are served.
func TestCrossSiteRequestsRefused(t *testing.T) {
	h := newHarness(t, gateway.Config{
		Authorizer: gateway.InsecureAllowAll(),
		WebThings:  gateway.WebThings{Layout: gateway.WebThingsMulti},
		CORS:       gateway.CORS{AllowedOrigins: []string{"https://app.example.com"}},
	})
	var runs atomic.Int32
	h.ad.Handle("urn:test:lamp", "toggle", func(context.Context, any) (any, error) {
		runs.Add(1)
		return true, nil
	})
	send := func(method, path, body string, hdr http.Header) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, h.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	self := "http://" + strings.TrimPrefix(h.ts.URL, "http://")
	evil := http.Header{"Origin": {"http://evil.example"}}
	for _, c := range []struct {
		name         string
		method, path string
		body         string
		hdr          http.Header
		want         int
		runs         int32
	}{
		{"cross-origin POST (W3C)", "POST", lamp + "/actions/toggle", "", evil, 403, 0},
		{"cross-origin POST (WebThings)", "POST", "/0/actions", `{"toggle":{}}`, evil, 403, 0},
		{"cross-origin PUT", "PUT", lamp + "/properties/on", "false", evil, 403, 0},
		{"cross-site by Sec-Fetch-Site", "POST", lamp + "/actions/toggle", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, 0},
		{"same-site is another origin", "POST", lamp + "/actions/toggle", "", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://other.localhost"}}, 403, 0},
		{"cross-origin GET", "GET", lamp + "/properties/on", "", evil, 200, 0},
		{"CORS-allowed origin", "POST", lamp + "/actions/toggle", "", http.Header{"Origin": {"https://app.example.com"}, "Sec-Fetch-Site": {"cross-site"}}, 200, 1},
		{"same origin", "POST", lamp + "/actions/toggle", "", http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}, 200, 2},
		{"no browser", "POST", lamp + "/actions/toggle", "", nil, 200, 3},
	} {
		if got := send(c.method, c.path, c.body, c.hdr); got != c.want || runs.Load() != c.runs {
			t.Errorf("%s: status %d, %d runs; want %d, %d runs", c.name, got, runs.Load(), c.want, c.runs)
		}
	}
	if v := h.ad.Value("urn:test:lamp", "on"); v != true {
		t.Errorf("a cross-origin PUT wrote the property: on = %v", v)
	}
}
