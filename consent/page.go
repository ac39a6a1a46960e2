package consent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

//go:embed templates/pages.html templates/style.css
var templateFS embed.FS

var (
	pageTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/pages.html"))
	pageStyle     = func() template.CSS {
		b, err := templateFS.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return template.CSS(b)
	}()
	// pageCSP allows nothing but the one inline style sheet (by hash): the
	// pages need no scripts, images or frames, and may not be framed.
	pageCSP = func() string {
		sum := sha256.Sum256([]byte(pageStyle))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

// opWords are the plain words the pages use for op words.
var opWords = map[string]string{
	thing.OpReadProperty:            "read",
	thing.OpWriteProperty:           "change",
	thing.OpObserveProperty:         "follow changes",
	thing.OpUnobserveProperty:       "stop following",
	thing.OpInvokeAction:            "operate",
	thing.OpQueryAction:             "check operations",
	thing.OpCancelAction:            "cancel operations",
	thing.OpSubscribeEvent:          "receive events",
	thing.OpUnsubscribeEvent:        "stop events",
	thing.OpReadAllProperties:       "read all settings",
	thing.OpWriteAllProperties:      "change all settings",
	thing.OpReadMultipleProperties:  "read several settings",
	thing.OpWriteMultipleProperties: "change several settings",
	thing.OpObserveAllProperties:    "follow all changes",
	thing.OpUnobserveAllProperties:  "stop following all",
	thing.OpQueryAllActions:         "check all operations",
	thing.OpSubscribeAllEvents:      "receive all events",
	thing.OpUnsubscribeAllEvents:    "stop all events",
}

type scopeView struct {
	Choice  bool
	ElemID  string
	Value   string
	Level   string
	All     bool
	Thing   string
	ThingID string
	ShowID  bool
	Ops     string
	Names   string
}

func (h *Handler) scopeViews(ctx context.Context, scopes []Scope, choice bool) []scopeView {
	out := make([]scopeView, len(scopes))
	for i, s := range scopes {
		v := scopeView{Choice: choice, ElemID: "scope-" + strconv.Itoa(i), Value: strconv.Itoa(i), All: s.Thing == AllThings, ThingID: s.Thing, Thing: s.Thing}
		if s.ReadOnly() {
			v.Level = "See:"
		} else {
			v.Level = "See and control:"
		}
		if h.things != nil && !v.All {
			if t, ok := h.things.ThingTitle(ctx, s.Thing); ok && t != "" {
				v.Thing, v.ShowID = t, t != s.Thing
			}
		}
		var words []string
		for _, op := range opOrder {
			if slices.Contains(s.Ops, op) {
				words = append(words, opWords[op])
			}
		}
		v.Ops = strings.Join(words, ", ")
		v.Names = strings.Join(s.Names, ", ")
		out[i] = v
	}
	return out
}

// humanDuration writes d in days, hours or minutes.
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour || d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(max(1, int64(d/time.Minute)), "minute")
	}
}

func humanTime(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") }

var basisWords = map[LawfulBasis]string{
	BasisConsent:             "your consent (GDPR Art. 6(1)(a))",
	BasisContract:            "a contract with you (GDPR Art. 6(1)(b))",
	BasisLegalObligation:     "a legal obligation (GDPR Art. 6(1)(c))",
	BasisVitalInterests:      "vital interests (GDPR Art. 6(1)(d))",
	BasisPublicTask:          "a public task (GDPR Art. 6(1)(e))",
	BasisLegitimateInterests: "legitimate interests (GDPR Art. 6(1)(f))",
}

// setPageHeaders sets the headers every HTML page gets: no caching, no
// framing, no referrer to other sites, and a CSP that allows only the page's own style.
func setPageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	data["Service"] = h.title
	data["Style"] = pageStyle
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		h.l.logger.Error("consent: rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *Handler) errorPage(w http.ResponseWriter, status int, title, msg string) {
	h.render(w, status, "error", map[string]any{"PageTitle": title, "Message": msg})
}

func (h *Handler) renderConsent(w http.ResponseWriter, r *http.Request, c *Client, p *Purpose, scopes []Scope, dur time.Duration, request, csrf, notice string) {
	data := map[string]any{
		"PageTitle": "Allow access",
		"App":       c.displayName(),
		"AppURI":    c.URI,
		"Purpose":   p,
		"Basis":     basisWords[p.LawfulBasis],
		"Duration":  humanDuration(dur),
		"Until":     humanTime(time.Now().Add(dur)),
		"Scopes":    h.scopeViews(r.Context(), scopes, true),
		"Request":   request,
		"CSRF":      csrf,
	}
	if p.Retention > 0 {
		data["Retention"] = humanDuration(p.Retention)
	}
	h.render(w, http.StatusOK, "consent", data)
}

type grantView struct {
	ID      string
	App     string
	Purpose string
	Status  Status
	Active  bool
	Created string
	Until   string
	Scopes  []scopeView
}

var notices = map[string]string{
	"revoked": "Your consent was withdrawn. The application can no longer use it.",
	"erased":  "All your consents were withdrawn and your data was erased.",
}

func (h *Handler) consentsCSRF(subject string) string {
	return base64.RawURLEncoding.EncodeToString(h.mac("consents", subject))
}

// consentsPage lists the subject's grants, each with a one-click
// withdrawal, and offers export and erasure.
func (h *Handler) consentsPage(w http.ResponseWriter, r *http.Request) {
	subject := h.subject(w, r)
	if subject == "" {
		return
	}
	var views []grantView
	grants := h.l.Grants(GrantFilter{Subject: subject})
	slices.SortStableFunc(grants, func(a, b Grant) int {
		// Active first, newest first.
		if (a.Status == StatusActive) != (b.Status == StatusActive) {
			if a.Status == StatusActive {
				return -1
			}
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	for _, g := range grants {
		v := grantView{ID: g.ID, App: g.Holder, Purpose: g.Purpose, Status: g.Status, Active: g.Status == StatusActive,
			Created: humanTime(g.Created), Until: humanTime(g.Expires), Scopes: h.scopeViews(r.Context(), g.Scopes, false)}
		if c := h.l.clients[g.Holder]; c != nil {
			v.App = c.displayName()
		}
		if p := h.l.purposes[g.Purpose]; p != nil {
			v.Purpose = p.Description
		}
		if !g.Revoked.IsZero() {
			v.Until = humanTime(g.Revoked)
		}
		views = append(views, v)
	}
	h.render(w, http.StatusOK, "consents", map[string]any{
		"PageTitle": "Your consents",
		"Grants":    views,
		"CSRF":      h.consentsCSRF(subject),
		"Notice":    notices[r.URL.Query().Get("done")],
	})
}

// consentsAction withdraws one consent or erases everything, then shows
// the consents page again.
func (h *Handler) consentsAction(w http.ResponseWriter, r *http.Request) {
	form, status, msg := parsePostForm(w, r, "csrf", "action", "grant", "confirm")
	if status != 0 {
		h.errorPage(w, status, "Invalid request", msg)
		return
	}
	if !sameOrigin(r) {
		h.errorPage(w, http.StatusForbidden, "Invalid request", "This form was submitted from another site.")
		return
	}
	subject := h.subject(w, r)
	if subject == "" {
		return
	}
	if !hmacEqualString(form.Get("csrf"), h.consentsCSRF(subject)) {
		h.errorPage(w, http.StatusForbidden, "Invalid request", "The form's security token does not match. Reload the page and try again.")
		return
	}
	var done string
	switch form.Get("action") {
	case "revoke":
		g, err := h.l.Get(form.Get("grant"))
		if err != nil || g.Subject != subject {
			h.errorPage(w, http.StatusNotFound, "Not found", "There is no such consent.")
			return
		}
		if err := h.l.Revoke(r.Context(), g.ID); err != nil {
			h.l.logger.Error("consent: revoking", "err", err)
			h.errorPage(w, http.StatusServiceUnavailable, "Try again later", "Your consent could not be withdrawn just now.")
			return
		}
		done = "revoked"
	case "erase":
		if form.Get("confirm") != "yes" {
			h.errorPage(w, http.StatusBadRequest, "Please confirm", "Tick the box to confirm that you want your data erased.")
			return
		}
		if err := h.l.Erase(r.Context(), subject); errors.Is(err, ErrNotErasable) {
			h.l.logger.Error("consent: erasing", "err", err)
			h.errorPage(w, http.StatusNotImplemented, "Erasure incomplete", "Your consents are withdrawn and deleted, but this installation's storage cannot remove old records, so your data was not erased completely. Please contact the operator.")
			return
		} else if err != nil {
			h.l.logger.Error("consent: erasing", "err", err)
			h.errorPage(w, http.StatusServiceUnavailable, "Try again later", "Your data could not be erased completely just now. Your consents are withdrawn; try again to finish.")
			return
		}
		done = "erased"
	default:
		h.errorPage(w, http.StatusBadRequest, "Invalid request", "Unknown action.")
		return
	}
	// A relative Location, resolved by the browser against this page's
	// URL, so the Handler works under any prefix (http.Redirect would
	// resolve it against the stripped path).
	w.Header().Set("Location", "consents?done="+done)
	w.WriteHeader(http.StatusSeeOther)
}

func hmacEqualString(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
