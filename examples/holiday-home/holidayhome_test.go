package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// startResort runs the example in-process on free loopback ports, with its
// data under a temporary directory, and stops it when the test ends.
func startResort(t *testing.T, cfg config) *resort {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.RoundEvery == 0 {
		cfg.RoundEvery = time.Hour
	}
	if testing.Verbose() {
		cfg.Out = testWriter{t}
	}
	ready := make(chan *resort, 1)
	cfg.ready = func(rs *resort) { ready <- rs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("run did not return within 20 s of cancellation")
		}
	})
	select {
	case rs := <-ready:
		return rs
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("the resort did not start within 90 s")
	}
	return nil
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// eventually polls cond until it holds or the wait runs out.
func eventually(t *testing.T, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", wait, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// browser is an HTTP client with cookies, as a guest's phone.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: testTransport}}
}

// testTransport resolves names under .localhost to the loopback
// interface, as browsers do; testClient uses it, without cookies.
var (
	testTransport = &http.Transport{DialContext: localDialer(nil)}
	testClient    = &http.Client{Timeout: 30 * time.Second, Transport: testTransport}
)

func (b *browser) do(method, u, contentType string, body io.Reader, token string) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func (b *browser) get(u string) (int, []byte) {
	resp, data := b.do("GET", u, "", nil, "")
	return resp.StatusCode, data
}

func (b *browser) postJSON(u string, v any) (int, []byte) {
	j, _ := json.Marshal(v)
	resp, data := b.do("POST", u, "application/json", bytes.NewReader(j), "")
	return resp.StatusCode, data
}

func (b *browser) postForm(u string, form url.Values) (*http.Response, []byte) {
	return b.do("POST", u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), "")
}

// bearer makes a request with a token and no cookies.
func bearer(t *testing.T, u, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return v
}

// checkIn checks a guest in at base with code.
func (b *browser) checkIn(base, code string) {
	b.t.Helper()
	resp, body := b.postForm(base+"checkin", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`id="things"`)) {
		b.t.Fatalf("check-in at %s: %s, want the app's page", base, resp.Status)
	}
}

// formValue extracts a hidden input's value from a page.
func formValue(t *testing.T, page []byte, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in the page:\n%s", name, page)
	}
	return html.UnescapeString(string(m[1]))
}

// TestStory walks the example's story over real HTTP on 127.0.0.1: a guest
// checks in and consents, a third-party app reads, the owner is refused the
// guest's usage history, the guest withdraws (the app's next request and
// its open stream are refused), the home's federated-learning client stops
// taking part when the guest withdraws that purpose, and the guest exports,
// then erases, their data.
func TestStory(t *testing.T) {
	rs := startResort(t, config{Homes: 4, RoundEvery: 200 * time.Millisecond, DPNoise: 1, Onboard: true})
	ctx := t.Context()
	c, h1 := rs.cloud, rs.homes[0]
	base := h1.localURL

	// The smart plug onboarded at start is in home 1's directory.
	if rs.plug == nil {
		t.Fatal("no smart plug was onboarded at start")
	}
	if !slices.ContainsFunc(h1.gw.Things(), func(td *thing.Description) bool { return td.ID == rs.plug.Thing }) {
		t.Fatalf("onboarded plug %s is not in home 1's directory", rs.plug.Thing)
	}

	guest := newBrowser(t)
	// Nothing without checking in: no app API, no gateway.
	if code, _ := guest.get(base + "api/session"); code != http.StatusUnauthorized {
		t.Fatalf("api/session before check-in: %d, want 401", code)
	}
	if code := bearer(t, base+"things", ""); code != http.StatusUnauthorized {
		t.Fatalf("the gateway without a token: %d, want 401", code)
	}
	if resp, _ := guest.postForm(base+"checkin", url.Values{"code": {"1111-2222"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("check-in with a wrong code: %s, want 401", resp.Status)
	}

	t.Log("check-in")
	guest.checkIn(base, h1.checkin)
	subject := h1.stay.subject()
	code, body := guest.get(base + "api/token")
	if code != http.StatusOK {
		t.Fatalf("api/token: %d %s", code, body)
	}
	appToken := decode[struct {
		AccessToken string `json:"access_token"`
	}](t, body).AccessToken
	if code := bearer(t, base+"things/"+livingLampID+"/properties/on", appToken); code != http.StatusOK {
		t.Fatalf("the guest app reading a light: %d", code)
	}
	// The guest app works away from home too, through the relay.
	away := h1.enroll.RemoteURL
	if code := bearer(t, away+"things/"+livingLampID+"/properties/on", appToken); code != http.StatusOK {
		t.Fatalf("the guest app reading a light through the relay: %d", code)
	}
	// Thing Descriptions fetched through the relay point back through it;
	// locally, forwarded headers from anyone else are ignored.
	for _, tc := range []struct{ url, prefix, base string }{
		{away + "things/" + livingLampID, "", away},
		{base + "things/" + livingLampID, "", base},
		{base + "things/" + livingLampID, "/evil", base},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		req.Header.Set("Authorization", "Bearer "+appToken)
		if tc.prefix != "" {
			req.Header.Set("X-Forwarded-Prefix", tc.prefix)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var td struct{ Base string }
		json.NewDecoder(resp.Body).Decode(&td)
		resp.Body.Close()
		if td.Base != tc.base {
			t.Errorf("TD from %s (X-Forwarded-Prefix %q) has base %q, want %q", tc.url, tc.prefix, td.Base, tc.base)
		}
	}

	t.Log("the guest consents to the energy forecast and to EnergySaver")
	if code, body := guest.postJSON(base+"api/forecast-consent", map[string]bool{"consent": true}); code != http.StatusOK {
		t.Fatalf("forecast consent: %d %s", code, body)
	}
	code, page := guest.get(c.es.base + "connect?home=home-1&via=local")
	if code != http.StatusOK || !bytes.Contains(page, []byte(`value="approve"`)) {
		t.Fatalf("EnergySaver's connect did not lead to the consent page: %d\n%s", code, page)
	}
	resp, _ := guest.postForm(base+"consent/authorize", url.Values{
		"request": {formValue(t, page, "request")}, "csrf": {formValue(t, page, "csrf")},
		"decision": {"approve"}, "scope": {"0"},
	})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != c.es.base {
		t.Fatalf("approving: %s at %s, want EnergySaver's page", resp.Status, resp.Request.URL)
	}
	conns := c.es.connections("home-1")
	if len(conns) != 1 {
		t.Fatalf("EnergySaver has %d connections to home 1, want 1", len(conns))
	}
	app := conns[0]
	if app.base != h1.enroll.RemoteURL {
		t.Fatalf("EnergySaver reaches the home at %s, want through the relay (%s)", app.base, h1.enroll.RemoteURL)
	}

	t.Log("the third-party app reads and streams the meter")
	if w, err := app.read(ctx, "power"); err != nil || w <= 0 {
		t.Fatalf("EnergySaver reading the meter: %v W, %v", w, err)
	}
	// A new value every 0.1 Wh: up to ~11 s apart at the meter's lowest draw.
	eventually(t, 30*time.Second, "EnergySaver's stream of the meter delivers", func() bool {
		s := app.snapshot()
		return s.Streaming && s.Events > 0
	})
	esToken, err := app.ts.token(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// It may read only what the guest allowed.
	if code := bearer(t, app.base+"things/"+livingLampID+"/properties/on", esToken); code != http.StatusForbidden {
		t.Fatalf("EnergySaver reading a light: %d, want 403", code)
	}
	// The home records the meter for it (purpose energy-insights keeps history).
	historyURL := base + "api/history?thing=" + url.QueryEscape(meterID) + "&property=energy"
	// The meter's energy moves by 0.1 Wh at least every ~11 s (its lowest
	// simulated draw is about 35 W); a value is recorded when it moves.
	eventually(t, 30*time.Second, "history recorded under EnergySaver's consent", func() bool {
		return len(historyValues(t, historyURL, esToken)) > 0
	})

	t.Log("the owner: maintenance yes, the guest's usage history no")
	dev, err := c.readMaintenance(ctx, "home-1")
	if err != nil || dev["heating mode"] == nil || dev["washing machine"] == nil {
		t.Fatalf("maintenance read: %v, %v", dev, err)
	}
	for _, p := range []string{
		"api/history?thing=" + url.QueryEscape(meterID) + "&property=power",
		"api/history?thing=" + url.QueryEscape(meterID) + "&property=energy",
		"things/" + meterID + "/properties/power",
		"things/" + livingLampID + "/properties/on",
		"things/urn:hearth:home:front-door/properties/open",
	} {
		if _, err := c.maintenanceGet(ctx, "home-1", p); !errors.Is(err, errForbidden) {
			t.Errorf("the owner's maintenance token on %s: %v, want 403", p, err)
		}
	}
	// Unless the guest grants it: a usage-review consent to the resort.
	review, err := h1.ledger.Grant(ctx, consent.GrantRequest{
		Subject: subject, Holder: resortClientID, Purpose: purposeReview,
		Scopes: []consent.Scope{{Thing: meterID, Ops: []string{thing.OpReadProperty}, Names: []string{"energy"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reviewTok, err := h1.ledger.IssueTokens(ctx, review.ID, consent.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the resort reads history under the guest's usage-review consent", func() bool {
		vals := historyValues(t, historyURL, string(reviewTok.AccessToken))
		for _, v := range vals {
			if v.GrantID != review.ID {
				t.Fatalf("the resort's history holds a value of grant %s", v.GrantID)
			}
		}
		return len(vals) > 0
	})

	t.Log("the guest withdraws EnergySaver's access in the consent centre")
	code, body = guest.get(base + "consent/api/grants")
	var esGrant consent.Grant
	for _, g := range decode[struct{ Grants []consent.Grant }](t, body).Grants {
		if g.Holder == energySaverID && g.Status == consent.StatusActive {
			esGrant = g
		}
	}
	if code != http.StatusOK || esGrant.ID == "" {
		t.Fatalf("no active EnergySaver grant in the consent centre: %d %s", code, body)
	}
	if code, body := guest.postJSON(base+"consent/api/grants/"+esGrant.ID+"/revoke", struct{}{}); code != http.StatusNoContent {
		t.Fatalf("revoking: %d %s", code, body)
	}
	revoked := time.Now()
	// The app's next request is refused...
	// (Its background loop may already have learned that the consent is
	// gone: then the app does not even get a token for the request.)
	if _, err := app.read(ctx, "power"); !errors.Is(err, errUnauthorized) && !errors.Is(err, errGrantGone) {
		t.Fatalf("EnergySaver's next request after the revocation: %v, want 401", err)
	}
	if code := bearer(t, app.base+"things/"+meterID+"/properties/power", esToken); code != http.StatusUnauthorized {
		t.Fatalf("EnergySaver's token through the relay after the revocation: %d, want 401", code)
	}
	// ...and its open stream is closed, at once.
	eventually(t, 3*time.Second, "EnergySaver's open stream is closed and it knows access was withdrawn", func() bool {
		s := app.snapshot()
		return !s.Streaming && s.Status == "withdrawn"
	})
	t.Logf("stream closed and access withdrawn %v after the revocation", time.Since(revoked).Round(time.Millisecond))

	t.Log("the home's FL client stops taking part when the guest withdraws")
	eventually(t, 30*time.Second, "home 1 trained in a federated round", func() bool { return h1.fl.Stats().Trained > 0 })
	if code, body := guest.postJSON(base+"api/forecast-consent", map[string]bool{"consent": false}); code != http.StatusOK {
		t.Fatalf("withdrawing the forecast consent: %d %s", code, body)
	}
	trained, declined, round := h1.fl.Stats().Trained, h1.fl.Stats().Declined, c.fl.Round()
	eventually(t, 30*time.Second, "two more rounds, in which home 1 declines", func() bool {
		return c.fl.Round() >= round+2 && h1.fl.Stats().Declined > declined
	})
	if got := h1.fl.Stats().Trained; got > trained+1 { // one round may have been under way
		t.Fatalf("home 1 trained %d more times after the guest withdrew", got-trained)
	}
	trained = h1.fl.Stats().Trained
	round = c.fl.Round()
	eventually(t, 30*time.Second, "another round", func() bool { return c.fl.Round() >= round+1 })
	if got := h1.fl.Stats().Trained; got != trained {
		t.Fatalf("home 1 kept training after the guest withdrew: %d, then %d", trained, got)
	}
	last := c.fl.History()[len(c.fl.History())-1]
	if !last.Released() || last.Declined < 1 || last.Epsilon <= 0 || !last.SecureAggregation {
		t.Fatalf("last round: %+v, want a released aggregate, home 1 declining, ε accounted, secure aggregation", last)
	}

	t.Log("export")
	code, body = guest.get(base + "consent/api/export")
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, body)
	}
	var exp consent.Export
	if err := json.Unmarshal(body, &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Subject != subject {
		t.Fatalf("export of %q, want %q", exp.Subject, subject)
	}
	holders := map[string]consent.Status{}
	for _, g := range exp.Grants {
		if g.Subject != subject {
			t.Fatalf("export holds another subject's grant: %+v", g)
		}
		holders[g.Holder] = g.Status
	}
	for h, st := range map[string]consent.Status{
		guestAppID: consent.StatusActive, energySaverID: consent.StatusRevoked,
		forecastClientID: consent.StatusRevoked, resortClientID: consent.StatusActive,
	} {
		if holders[h] != st {
			t.Errorf("export: grant to %s is %q, want %q", h, holders[h], st)
		}
	}
	events := map[string]int{}
	for _, e := range exp.Audit {
		events[e.Entry.Event]++
		if e.Entry.Subject == subject {
			t.Errorf("an audit entry names the subject in clear: %+v", e.Entry)
		}
	}
	if events[consent.EventGrant] < 4 || events[consent.EventRevoke] < 2 || events[consent.EventIssue] < 1 {
		t.Errorf("export's audit entries: %v, want the grants, issues and revocations", events)
	}
	var hist struct {
		History []struct {
			Purpose, Thing, Property string
		}
	}
	if err := json.Unmarshal(exp.Data["history"], &hist); err != nil {
		t.Fatalf("export's history: %v (%s)", err, exp.Data["history"])
	}
	purposesSeen := map[string]bool{}
	for _, v := range hist.History {
		if v.Thing != meterID {
			t.Errorf("history of %s/%s: only the meter was consented to", v.Thing, v.Property)
		}
		purposesSeen[v.Purpose] = true
	}
	if !purposesSeen[purposeInsights] || !purposesSeen[purposeReview] {
		t.Errorf("export's history covers purposes %v, want %s and %s", purposesSeen, purposeInsights, purposeReview)
	}
	var stay stayRecord
	if err := json.Unmarshal(exp.Data["stay"], &stay); err != nil || stay.Subject != subject || stay.CheckIns < 1 {
		t.Errorf("export's stay record: %+v, %v", stay, err)
	}

	// The guest starts the washing machine: the gateway keeps the request,
	// with its input, for the guest alone.
	washerActions := base + "things/" + url.PathEscape(washerID) + "/actions"
	program := virtual.DefaultPrograms[len(virtual.DefaultPrograms)-1].Name
	resp, _ = guest.do("POST", washerActions+"/start", "application/json", strings.NewReader(`{"program":"`+program+`"}`), appToken)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("starting the washing machine: %s", resp.Status)
	}
	washLocation := resp.Header.Get("Location")
	if reqs := actionRequests(t, washerActions, appToken); len(reqs) != 1 || washLocation == "" || !strings.HasSuffix(washLocation, actionHref(t, reqs[0])) {
		t.Fatalf("the guest's washing-machine requests: %s, want the one at %q", reqs, washLocation)
	}

	// Before erasure the guest's pseudonym is on the home's disk (the
	// ledger and the durable history), so the check after it can fail.
	if !dirMentions(t, h1.dir, subject) {
		t.Fatal("before erasure no file of the home names the guest: the erasure check below would prove nothing")
	}

	t.Log("erase")
	if code, body := guest.postJSON(base+"consent/api/erase", map[string]bool{"confirm": true}); code != http.StatusNoContent {
		t.Fatalf("erase: %d %s", code, body)
	}
	if gs := h1.ledger.Grants(consent.GrantFilter{Subject: subject}); len(gs) != 0 {
		t.Errorf("after erasure the ledger holds %d grants of the guest", len(gs))
	}
	if b, err := h1.history.ExportSubject(ctx, subject); err != nil || bytes.Contains(b, []byte(meterID)) {
		t.Errorf("after erasure the history still holds %s (%v)", b, err)
	}
	if h1.stay.subject() == subject {
		t.Error("after erasure the home still keeps the guest's stay")
	}
	if code, _ := guest.get(base + "api/session"); code != http.StatusUnauthorized {
		t.Errorf("the guest's session after erasure: %d, want 401", code)
	}
	if code := bearer(t, base+"things/"+livingLampID+"/properties/on", appToken); code != http.StatusUnauthorized {
		t.Errorf("the guest app's token after erasure: %d, want 401", code)
	}
	if code := bearer(t, historyURL, string(reviewTok.AccessToken)); code != http.StatusUnauthorized {
		t.Errorf("the resort's usage-review token after erasure: %d, want 401", code)
	}
	if h1.forecastConsent(ctx) {
		t.Error("the forecast consent stands after erasure")
	}
	// Nothing on the home's disk names the guest any more: the ledger
	// compacted its store, the history rewrote its file, and the audit log
	// holds only pseudonyms.
	if dirMentions(t, h1.dir, subject) {
		t.Error("after erasure a file of the home still names the guest")
	}
	// A new stay can begin.
	newGuest := newBrowser(t)
	newGuest.checkIn(base, h1.checkin)
	if h1.stay.subject() == subject {
		t.Error("the next check-in reuses the erased pseudonym")
	}
	// The erased guest's washing-machine request is gone from the
	// gateway: the new guest does not see it, and nor would anyone
	// granted access under the erased pseudonym again.
	_, body = newGuest.get(base + "api/token")
	newToken := decode[struct {
		AccessToken string `json:"access_token"`
	}](t, body).AccessToken
	if reqs := actionRequests(t, washerActions, newToken); len(reqs) != 0 {
		t.Errorf("the new guest sees washing-machine requests: %s", reqs)
	}
	again, err := h1.ledger.Grant(ctx, consent.GrantRequest{
		Subject: subject, Holder: guestAppID, Purpose: purposeStay,
		Scopes: []consent.Scope{{Thing: consent.AllThings, Ops: consent.ReadWriteOps()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	againTok, err := h1.ledger.IssueTokens(ctx, again.ID, consent.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reqs := actionRequests(t, washerActions, string(againTok.AccessToken)); len(reqs) != 0 {
		t.Errorf("the erased guest's washing-machine requests outlived the erasure: %s", reqs)
	}
	if code := bearer(t, washLocation, string(againTok.AccessToken)); code != http.StatusNotFound {
		t.Errorf("the erased guest's washing-machine request at %s: %d, want 404", washLocation, code)
	}
}

// actionHref returns the href of an action status.
func actionHref(t *testing.T, status json.RawMessage) string {
	t.Helper()
	var st struct{ Href string }
	if err := json.Unmarshal(status, &st); err != nil || st.Href == "" {
		t.Fatalf("action status without href: %s", status)
	}
	return st.Href
}

// actionRequests lists the action requests of a thing's "start" action
// that the token's caller sees (queryallactions).
func actionRequests(t *testing.T, actionsURL, token string) []json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest("GET", actionsURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("queryallactions: %s %s", resp.Status, b)
	}
	var all map[string][]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	return all["start"]
}

// dirMentions reports whether any file under dir contains s (and logs which).
func dirMentions(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			t.Logf("%s mentions %s", p, s)
			found = true
		}
		return nil
	})
	return found
}

type historyValue struct {
	GrantID string          `json:"grant"`
	Value   json.RawMessage `json:"value"`
}

// historyValues reads the home's history endpoint with a token.
func historyValues(t *testing.T, u, token string) []historyValue {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("history: %s %s", resp.Status, b)
	}
	var v struct{ Values []historyValue }
	json.NewDecoder(resp.Body).Decode(&v)
	return v.Values
}

// TestDenyConsent: a guest who says no gives the app nothing.
func TestDenyConsent(t *testing.T) {
	rs := startResort(t, config{Homes: 1})
	c, h1 := rs.cloud, rs.homes[0]
	guest := newBrowser(t)
	guest.checkIn(h1.localURL, h1.checkin)
	_, page := guest.get(c.es.base + "connect?home=home-1&via=relay")
	resp, _ := guest.postForm(h1.enroll.RemoteURL+"consent/authorize", url.Values{
		"request": {formValue(t, page, "request")}, "csrf": {formValue(t, page, "csrf")}, "decision": {"deny"},
	})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != c.es.base {
		t.Fatalf("denying: %s at %s", resp.Status, resp.Request.URL)
	}
	if n := len(c.es.connections("home-1")); n != 0 {
		t.Fatalf("EnergySaver got %d connections from a denial", n)
	}
	if gs := h1.ledger.Grants(consent.GrantFilter{Holder: energySaverID}); len(gs) != 0 {
		t.Fatalf("a denial recorded grants: %+v", gs)
	}
}

// TestDurableAcrossRuns: the ledger and the stay survive a restart on the
// same data directory.
func TestDurableAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	var subject, grant string
	func() {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rs := make(chan *resort, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, config{Homes: 1, DataDir: dir, Host: "127.0.0.1", RoundEvery: time.Hour, ready: func(r *resort) { rs <- r }})
		}()
		r := <-rs
		h := r.homes[0]
		b := newBrowser(t)
		b.checkIn(h.localURL, h.checkin)
		if code, body := b.postJSON(h.localURL+"api/forecast-consent", map[string]bool{"consent": true}); code != http.StatusOK {
			t.Fatalf("consent: %d %s", code, body)
		}
		subject, grant = h.stay.subject(), h.forecastGrant().ID
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	rs := startResort(t, config{Homes: 1, DataDir: dir})
	h := rs.homes[0]
	if h.stay.subject() != subject {
		t.Fatalf("the stay's subject changed across runs: %s, then %s", subject, h.stay.subject())
	}
	if g := h.forecastGrant(); g == nil || g.ID != grant {
		t.Fatalf("the forecast consent did not survive the restart: %+v", g)
	}
}

// TestConfigErrors: bad flags are reported, all at once, before anything
// starts.
func TestConfigErrors(t *testing.T) {
	for _, cfg := range []config{
		{Homes: 0, RoundEvery: time.Second},
		{Homes: 1, Home: 2, RoundEvery: time.Second},
		{Homes: 1, Home: 1, CloudURL: "http://plain.example", RoundEvery: time.Second},
		{Homes: 1, CloudOnly: true, Home: 1, CloudURL: "https://x.example", RoundEvery: time.Second},
		{Homes: 1, RoundEvery: 0},
		{Homes: 1, RoundEvery: time.Second, DPNoise: -1},
		{Homes: 1, RoundEvery: time.Second, Hostnames: []string{"192.0.2.7"}},       // the apps' domain must be a name
		{Homes: 1, RoundEvery: time.Second, Hostnames: []string{"resort.lan:8470"}}, // no port
	} {
		if err := cfg.validate(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// TestSafeNext: the post-check-in destination cannot leave the home.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"consent/authorize?client_id=x": "consent/authorize?client_id=x",
		"https://evil.example/":         "",
		"//evil.example/consent/":       "",
		"consent/../../x":               "",
		"consent//evil.example":         "",
		"api/token":                     "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSeparateProcesses runs the cloud and a home as the separate
// processes of a multi-machine setup would (-cloud-only, then -home N
// -cloud URL), sharing only the data directory for the CA certificate and
// the enrollment secret, as the defaults of -cloud-ca and -enroll-secret.
func TestSeparateProcesses(t *testing.T) {
	dir := t.TempDir()
	cloudSide := startResort(t, config{CloudOnly: true, Homes: 1, DataDir: dir})
	c := cloudSide.cloud
	if len(cloudSide.homes) != 0 {
		t.Fatalf("-cloud-only started %d homes", len(cloudSide.homes))
	}
	homeSide := startResort(t, config{Home: 2, Homes: 1, CloudURL: c.secureURL, DataDir: dir})
	if len(homeSide.homes) != 1 || homeSide.homes[0].name != "home-2" {
		t.Fatalf("-home 2 started %v", homeSide.homes)
	}
	h := homeSide.homes[0]
	eventually(t, 10*time.Second, "home 2 connects to the relay and the FL server", func() bool {
		return c.relay.Connected("home-2") && slices.Contains(c.fl.Clients(), "home-2")
	})
	b := newBrowser(t)
	b.checkIn(h.enroll.RemoteURL, h.checkin)
	if code, body := b.get(h.enroll.RemoteURL + "api/session"); code != http.StatusOK {
		t.Fatalf("the guest app through the relay: %d %s", code, body)
	}
	// Home 2's guest was simulated to opt in to the forecast.
	if !h.forecastConsent(t.Context()) {
		t.Error("home 2's simulated guest did not opt in")
	}

	// An impostor with the enrollment secret and a fresh data directory
	// (so another gateway key) cannot take over home 2's name: it is
	// refused, and home 2 keeps its link, its key and its guests.
	keyBefore, _ := c.reg.get("home-2")
	secret, err := os.ReadFile(filepath.Join(dir, "cloud", "enroll-secret"))
	if err != nil {
		t.Fatal(err)
	}
	impostorCtx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = run(impostorCtx, config{
		Home: 2, Homes: 1, CloudURL: c.secureURL, DataDir: t.TempDir(), Host: "127.0.0.1", RoundEvery: time.Hour,
		CloudCA: filepath.Join(dir, "cloud", "ca.pem"), EnrollSecret: strings.TrimSpace(string(secret)),
	})
	var conflict *httpError
	if !errors.As(err, &conflict) || conflict.Status != http.StatusConflict {
		t.Fatalf("an impostor enrolling as home-2: %v, want 409", err)
	}
	if rec, _ := c.reg.get("home-2"); !rec.Key.Equal(keyBefore.Key) || rec.TokenHash != keyBefore.TokenHash {
		t.Fatal("the impostor changed home 2's key or token")
	}
	if !c.relay.Connected("home-2") {
		t.Fatal("home 2 lost its relay link to the impostor's attempt")
	}
	if code, body := b.get(h.enroll.RemoteURL + "api/session"); code != http.StatusOK {
		t.Fatalf("home 2's guest through the relay after the impostor's attempt: %d %s", code, body)
	}

	// A home with the wrong enrollment secret is refused, and says so.
	err = run(t.Context(), config{Home: 3, Homes: 1, CloudURL: c.secureURL, DataDir: dir, EnrollSecret: "wrong", Host: "127.0.0.1", RoundEvery: time.Hour})
	var he *httpError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("enrolling with a wrong secret: %v, want 401", err)
	}
	if _, ok := c.reg.get("home-3"); ok {
		t.Fatal("a home with a wrong secret was enrolled")
	}
}

// TestAddDevice: the guest adds a device with the code on its label; the
// "Add device" request is the user gesture that lets the radio scan.
func TestAddDevice(t *testing.T) {
	rs := startResort(t, config{Homes: 1})
	h := rs.homes[0]
	base := h.localURL
	stranger := newBrowser(t)
	if code, _ := stranger.postJSON(base+"api/devices/unbox", struct{}{}); code != http.StatusUnauthorized {
		t.Fatalf("unboxing without checking in: %d, want 401", code)
	}
	guest := newBrowser(t)
	guest.checkIn(base, h.checkin)
	code, body := guest.postJSON(base+"api/devices/unbox", struct{}{})
	if code != http.StatusOK {
		t.Fatalf("unbox: %d %s", code, body)
	}
	l := decode[label](t, body)
	// A wrong code finds nothing: the device is not added.
	wrong := "1357-9024"
	if wrong == l.Code {
		wrong = "2468-1357"
	}
	if code, body := guest.postJSON(base+"api/devices/add", map[string]string{"code": wrong}); code != http.StatusBadRequest {
		t.Fatalf("adding with a wrong code: %d %s, want 400", code, body)
	}
	// The right device with a wrong code: it refuses the secure session.
	digits := func(s string) string { return strings.ReplaceAll(s, "-", "") }
	forged := strings.Replace(l.Payload, digits(l.Code), digits(wrong), 1)
	if code, body := guest.postJSON(base+"api/devices/add", map[string]string{"code": forged}); code != http.StatusBadRequest {
		t.Fatalf("adding with the right device and a wrong code: %d %s, want 400", code, body)
	}
	if _, ok := h.devices.Device(l.Thing); ok {
		t.Fatal("a device joined with a wrong code")
	}
	// After a wrong code the device pauses a moment (429), then accepts
	// the right one.
	eventually(t, 15*time.Second, "the device accepts the label's code", func() bool {
		code, body = guest.postJSON(base+"api/devices/add", map[string]string{"code": l.Code})
		if code != http.StatusOK && code != http.StatusTooManyRequests {
			t.Fatalf("adding with the label's code: %d %s", code, body)
		}
		return code == http.StatusOK
	})
	res := decode[struct {
		Thing string
		Steps []string
	}](t, body)
	if res.Thing != l.Thing || !slices.Contains(res.Steps, "Complete") {
		t.Fatalf("add: %+v, want %s completed", res, l.Thing)
	}
	// It is in the gateway's directory, for the guest's app, as soon as
	// adding it returned.
	if !slices.ContainsFunc(h.gw.Things(), func(td *thing.Description) bool { return td.ID == l.Thing }) {
		t.Fatalf("added device %s is not in the gateway's directory", l.Thing)
	}
	_, body = guest.get(base + "api/token")
	tok := decode[struct {
		AccessToken string `json:"access_token"`
	}](t, body).AccessToken
	if code := bearer(t, base+"things/"+l.Thing, tok); code != http.StatusOK {
		t.Fatalf("the new device's TD: %d", code)
	}
	if st := h.stay.get(); !slices.Contains(st.Devices, l.Thing) {
		t.Fatalf("the stay does not record the added device: %+v", st)
	}
}

// TestAppsHaveTheirOwnOrigins: the owner's dashboard, EnergySaver and
// every home (on the home's network and through the relay) are separate
// browser origins with host names of their own, so a page of one app
// cannot use another's session: EnergySaver's pages can neither obtain
// the guest app's token nor approve their own consent request.
func TestAppsHaveTheirOwnOrigins(t *testing.T) {
	rs := startResort(t, config{Homes: 2})
	c, h1, h2 := rs.cloud, rs.homes[0], rs.homes[1]
	guest := newBrowser(t)
	guest.checkIn(h1.localURL, h1.checkin)
	guest.checkIn(h1.enroll.RemoteURL, h1.checkin)
	if code, _ := guest.get(c.publicURL + "/owner/login?key=" + c.ownerKey); code != http.StatusOK {
		t.Fatalf("owner login: %d", code)
	}
	if code, _ := guest.get(c.es.base); code != http.StatusOK {
		t.Fatalf("EnergySaver's page: %d", code)
	}

	// A browser keeps cookies per host name: each app has its own, and
	// each sees only its own cookie.
	apps := []struct {
		app, url, cookie string
	}{
		{"owner", c.publicURL + "/", "hh_owner"},
		{"energysaver", c.es.base, "es_browser"},
		{"home-1", h1.localURL, guestCookie("home-1")},
		{"home-1", h1.enroll.RemoteURL, guestCookie("home-1")},
		{"home-2", h2.localURL, ""},
		{"home-2", h2.enroll.RemoteURL, ""},
	}
	hosts := map[string]string{}
	for _, a := range apps {
		u, _ := url.Parse(a.url)
		if other, ok := hosts[u.Hostname()]; ok && other != a.app {
			t.Errorf("%s and %s share the host name %s", a.app, other, u.Hostname())
		}
		hosts[u.Hostname()] = a.app
		var names []string
		for _, ck := range guest.hc.Jar.Cookies(u) {
			names = append(names, ck.Name)
		}
		if want := []string{a.cookie}; a.cookie == "" && len(names) != 0 || a.cookie != "" && !slices.Equal(names, want) {
			t.Errorf("cookies the browser sends to %s (%s): %v, want only %q", a.url, a.app, names, a.cookie)
		}
	}

	// Through the relay's TLS port too, under the home's own name, with a
	// certificate from the resort's CA.
	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: localDialer(nil), TLSClientConfig: &tls.Config{RootCAs: c.ca.pool()},
	}}
	if resp, err := tlsClient.Get(h1.enroll.RemoteHTTPS + "things"); err != nil {
		t.Errorf("the home over https through the relay: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the home's gateway over https through the relay without a token: %s, want 401", resp.Status)
	}

	// No path of EnergySaver's or the owner's origin leads to a home.
	for _, origin := range []string{strings.TrimSuffix(c.es.base, "/"), c.publicURL} {
		for _, p := range []string{"/homes/home-1/api/token", "/homes/home-1/consent/api/grants", "/home-1/api/token"} {
			code, body := guest.get(origin + p)
			if code == http.StatusOK || bytes.Contains(body, []byte("access_token")) {
				t.Errorf("GET %s%s from the guest's browser: %d %s", origin, p, code, body)
			}
		}
	}

	// A page of EnergySaver's origin calling the home: the browser marks
	// the request cross-site, and the home refuses it, even with the
	// guest's cookie; nor would the browser let the page read an answer
	// without CORS headers.
	esOrigin := strings.TrimSuffix(c.es.base, "/")
	fromES := func(method, u string, form url.Values) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Origin", esOrigin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Sec-Fetch-Mode", "cors")
		resp, err := guest.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, base := range []string{h1.localURL, h1.enroll.RemoteURL} {
		resp := fromES("GET", base+"api/token", nil)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("EnergySaver's page fetching %sapi/token: %s (CORS %q), want 403 without CORS", base, resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// Even given the consent page's hidden fields (which it cannot read
	// across origins), EnergySaver's page cannot approve its own request.
	code, page := guest.get(c.es.base + "connect?home=home-1&via=relay")
	if code != http.StatusOK || !bytes.Contains(page, []byte(`value="approve"`)) {
		t.Fatalf("EnergySaver's connect did not lead to the consent page: %d", code)
	}
	guest.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer func() { guest.hc.CheckRedirect = nil }()
	resp := fromES("POST", h1.enroll.RemoteURL+"consent/authorize", url.Values{
		"request": {formValue(t, page, "request")}, "csrf": {formValue(t, page, "csrf")},
		"decision": {"approve"}, "scope": {"0"},
	})
	if resp.StatusCode/100 == 3 || resp.StatusCode == http.StatusOK {
		t.Errorf("EnergySaver's page approving its own consent: %s (Location %q)", resp.Status, resp.Header.Get("Location"))
	}
	if gs := h1.ledger.Grants(consent.GrantFilter{Holder: energySaverID}); len(gs) != 0 {
		t.Errorf("EnergySaver's page got itself a grant: %+v", gs)
	}
}

// TestKeepCookies: a home and the relay pass on only the home's cookie.
func TestKeepCookies(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://home-1.localhost/", nil)
	r.Header.Add("Cookie", "hh_owner=o; hh_home-1=a")
	r.Header.Add("Cookie", "es_browser=e; hh_home-2=b")
	keepCookies(r, "hh_home-1")
	if got := r.Header.Values("Cookie"); !slices.Equal(got, []string{"hh_home-1=a"}) {
		t.Errorf("cookies kept: %q", got)
	}
	keepCookies(r, "hh_home-3")
	if got := r.Header.Values("Cookie"); len(got) != 0 {
		t.Errorf("cookies kept: %q, want none", got)
	}
}

// TestEnrollmentProof: enrolling needs the secret and a signature, with
// the gateway's key, of a fresh single-use challenge; a name stays bound
// to the first key that enrolled it.
func TestEnrollmentProof(t *testing.T) {
	rs := startResort(t, config{CloudOnly: true, Homes: 1})
	c := rs.cloud
	ctx := t.Context()
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	const local = "http://home-7.localhost:8487/"
	challenge := func() []byte {
		var ch struct{ Nonce []byte }
		if err := postJSON(ctx, c.hc, c.secureURL+"/api/enroll/challenge", c.enrollSecret, struct{}{}, &ch); err != nil {
			t.Fatal(err)
		}
		return ch.Nonce
	}
	enroll := func(req enrollRequest) int {
		t.Helper()
		err := postJSON(ctx, c.hc, c.secureURL+"/api/enroll", c.enrollSecret, req, nil)
		var he *httpError
		switch {
		case err == nil:
			return http.StatusOK
		case errors.As(err, &he):
			return he.Status
		}
		t.Fatal(err)
		return 0
	}
	signed := func(k ed25519.PrivateKey, nonce []byte) enrollRequest {
		pub := k.Public().(ed25519.PublicKey)
		return enrollRequest{Home: "home-7", Key: pub, LocalURL: local, Nonce: nonce,
			Sig: ed25519.Sign(k, enrollTranscript("home-7", pub, local, nonce))}
	}

	// No challenge, or a signature by another key: refused.
	if code := enroll(signed(key, []byte("made-up"))); code != http.StatusBadRequest {
		t.Errorf("enrolling with a made-up nonce: %d, want 400", code)
	}
	forged := signed(other, challenge())
	forged.Key = key.Public().(ed25519.PublicKey)
	if code := enroll(forged); code != http.StatusUnauthorized {
		t.Errorf("enrolling with another key's signature: %d, want 401", code)
	}
	if _, ok := c.reg.get("home-7"); ok {
		t.Fatal("a refused enrollment recorded the home")
	}
	// The first enrollment binds the name to the key.
	first := signed(key, challenge())
	if code := enroll(first); code != http.StatusOK {
		t.Fatalf("first enrollment: %d", code)
	}
	// Its request cannot be replayed.
	if code := enroll(first); code != http.StatusBadRequest {
		t.Errorf("replaying an enrollment: %d, want 400", code)
	}
	// The same key enrolls again (a restart); another key cannot.
	if code := enroll(signed(key, challenge())); code != http.StatusOK {
		t.Errorf("re-enrolling with the same key: %d", code)
	}
	if code := enroll(signed(other, challenge())); code != http.StatusConflict {
		t.Errorf("enrolling home-7 with another key: %d, want 409", code)
	}
	if rec, _ := c.reg.get("home-7"); !rec.Key.Equal(key.Public()) {
		t.Error("home-7's key changed")
	}
	// The resort's own apps' names are not for homes.
	reserved := signed(key, challenge())
	reserved.Home = "energysaver"
	reserved.Sig = ed25519.Sign(key, enrollTranscript(reserved.Home, reserved.Key, local, reserved.Nonce))
	if code := enroll(reserved); code != http.StatusBadRequest {
		t.Errorf("enrolling as energysaver: %d, want 400", code)
	}
}

// TestHomeHostNames: every route of a home, the guest app's and the
// consent pages as well as the gateway's, answers only the home's own
// names and IP addresses, against DNS rebinding.
func TestHomeHostNames(t *testing.T) {
	rs := startResort(t, config{Homes: 2})
	h1 := rs.homes[0]
	u, _ := url.Parse(h1.localURL)
	_, port, _ := net.SplitHostPort(u.Host)
	paths := []string{"", "checkin", "app/app.js", "api/session", "api/token", "consent/api/grants", "consent/authorize?client_id=energysaver", "things", ".well-known/wot"}
	for _, host := range []string{"evil.example", "localhost", "home-2.localhost", "resort.localhost"} {
		for _, p := range paths {
			req, _ := http.NewRequest("GET", h1.localURL+p, nil)
			req.Host = net.JoinHostPort(host, port)
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Errorf("GET /%s for Host %s: %s, want 421", p, host, resp.Status)
			}
		}
	}
	for _, host := range []string{u.Host, "127.0.0.1:" + port} {
		req, _ := http.NewRequest("GET", h1.localURL+"checkin", nil)
		req.Host = host
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the check-in page for Host %s: %s, want 200", host, resp.Status)
		}
	}
}
