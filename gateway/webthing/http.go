package webthing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/hearth-wot/hearth/gateway"
)

// Token is a credential sent to a remote thing as "Authorization: Bearer".
// It redacts itself when printed or logged.
type Token string

// String returns a redacted form of the token.
func (t Token) String() string {
	if t == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue implements slog.LogValuer, redacting the token.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// StatusError reports an HTTP response from a remote thing that was not a
// success. It matches gateway.ErrNotFound for 404 and 410, and
// gateway.ErrNotSupported for 405 and 501, so that a gateway answers with
// the same kind of status.
type StatusError struct {
	Method string
	URL    string // without query or credentials
	Code   int
	Body   string // the start of the response body, for diagnostics
}

// Error implements error: the operation, the URL and the status.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("webthing: %s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Is reports whether the status matches a gateway sentinel.
func (e *StatusError) Is(target error) bool {
	switch target {
	case gateway.ErrNotFound:
		return e.Code == http.StatusNotFound || e.Code == http.StatusGone
	case gateway.ErrNotSupported:
		return e.Code == http.StatusMethodNotAllowed || e.Code == http.StatusNotImplemented
	}
	return false
}

// ErrTooLarge is wrapped by errors for a response body or stream message
// larger than the configured limit.
var ErrTooLarge = errors.New("webthing: remote message too large")

// ErrProtocol is wrapped by errors for a remote that does not speak the
// protocol it announced: malformed JSON, a wrapped body without the
// expected member, an unknown action status.
var ErrProtocol = errors.New("webthing: protocol error")

// ErrClosed is returned by an Adapter after Close.
var ErrClosed = errors.New("webthing: adapter closed")

// ErrExists is returned by Adapter.Add for a thing id already in use.
var ErrExists = errors.New("webthing: thing already exists")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("webthing: %s: %w", fmt.Sprintf(format, args...), ErrProtocol)
}

// redactURL returns u without user info and query, for errors and logs.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	return c.String()
}

// request is one HTTP exchange with a remote.
type request struct {
	method string
	url    *url.URL
	body   any // marshalled as JSON if not nil
	accept string
	token  Token
	// anyHost lets redirects lead to other hosts (Remote.AnyHost).
	anyHost bool
}

// anyHostKey marks the context of a request whose redirects may lead to
// other hosts (Remote.AnyHost).
type anyHostKey struct{}

// withHostRule records in ctx whether redirects may leave the request's
// host.
func withHostRule(ctx context.Context, anyHost bool) context.Context {
	if !anyHost {
		return ctx
	}
	return context.WithValue(ctx, anyHostKey{}, true)
}

// maxRedirects is how many redirects one request follows, as net/http's
// default policy.
const maxRedirects = 10

// checkRedirect returns the adapter's http.Client.CheckRedirect: a
// redirect stays on the host of the original request unless its context
// allows any host (withHostRule), never goes from https to http, and
// never takes the Authorization header to another host. It then defers to
// next (the caller's own policy), or stops after maxRedirects.
func checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if first.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("webthing: redirect from https to %s: %w", redactURL(req.URL), ErrForeignHost)
		}
		if !strings.EqualFold(req.URL.Host, first.Host) {
			if anyHost, _ := req.Context().Value(anyHostKey{}).(bool); !anyHost {
				return fmt.Errorf("webthing: redirect to %s: %w", redactURL(req.URL), ErrForeignHost)
			}
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("webthing: stopped after %d redirects", maxRedirects)
		}
		return nil
	}
}

// do performs r within the adapter's timeout and returns the response with
// its body read (at most maxBody bytes).
func (a *Adapter) do(ctx context.Context, r request) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(withHostRule(ctx, r.anyHost), a.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, nil, fmt.Errorf("webthing: encoding request body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("webthing: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+string(r.token))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("webthing: %s %s: %w", r.method, redactURL(r.url), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := readLimited(resp.Body, a.cfg.MaxBodyBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("webthing: %s %s: %w", r.method, redactURL(r.url), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet := string(data)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return resp, data, &StatusError{Method: r.method, URL: redactURL(r.url), Code: resp.StatusCode, Body: strings.TrimSpace(snippet)}
	}
	return resp, data, nil
}

// unwrapURLError drops the *url.Error layer, whose message repeats the
// full URL (with its query), keeping what it wraps (context errors stay
// matchable with errors.Is).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readLimited reads r to the end, failing with ErrTooLarge beyond limit
// bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("body over %d bytes: %w", limit, ErrTooLarge)
	}
	return data, nil
}

// decodeJSON decodes a JSON value from data, which must hold exactly one.
func decodeJSON(data []byte) (any, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, protocolError("malformed JSON: %v", err)
	}
	return v, nil
}

// isJSON reports whether a media type is JSON (application/json or a
// +json type such as application/td+json).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
