package webthing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hearth-wot/hearth/gateway"
)

// Operations on WebThings remotes (the Web Thing API): bodies wrapped in
// an object keyed by the affordance name, actions queued and polled.

// unwrap returns the member name of a wrapped body {"name": value}.
func unwrap(body []byte, name string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, protocolError("want a body {%q: ...}: %v", name, err)
	}
	v, ok := m[name]
	if !ok {
		return nil, protocolError("body has no member %q", name)
	}
	return v, nil
}

func (a *Adapter) legacyRead(ctx context.Context, r *remote, name string) (any, error) {
	u := r.props[name]
	if u == nil {
		return nil, notFound(r, "property", name)
	}
	_, body, err := a.do(ctx, request{method: http.MethodGet, url: u, token: r.token, anyHost: r.anyHost})
	if err != nil {
		return nil, err
	}
	raw, err := unwrap(body, name)
	if err != nil {
		return nil, err
	}
	return decodeJSON(raw)
}

func (a *Adapter) legacyWrite(ctx context.Context, r *remote, name string, value any) error {
	u := r.props[name]
	if u == nil {
		return notFound(r, "property", name)
	}
	if p := r.local.Properties[name]; p != nil && p.ReadOnly {
		return fmt.Errorf("webthing: property %q of thing %q is read-only: %w", name, r.id, gateway.ErrNotSupported)
	}
	_, _, err := a.do(ctx, request{method: http.MethodPut, url: u, body: map[string]any{name: value}, token: r.token, anyHost: r.anyHost})
	return err
}

// legacyAction is a Web Thing API action request's description.
type legacyAction struct {
	Href   string `json:"href"`
	Status string `json:"status"`
}

// decodeLegacyAction decodes a wrapped action description.
func decodeLegacyAction(body []byte, name string) (legacyAction, error) {
	var act legacyAction
	raw, err := unwrap(body, name)
	if err != nil {
		return act, err
	}
	if err := json.Unmarshal(raw, &act); err != nil {
		return act, protocolError("malformed action description: %v", err)
	}
	switch act.Status {
	case "created", "pending", "completed", "failed", "error":
		return act, nil
	}
	return act, protocolError("unknown action status %q", act.Status)
}

func (a *Adapter) legacyInvoke(ctx context.Context, r *remote, name string, input any) (any, error) {
	u := r.actions[name]
	if u == nil {
		return nil, notFound(r, "action", name)
	}
	req := map[string]any{}
	if input != nil {
		req["input"] = input
	}
	_, body, err := a.do(ctx, request{method: http.MethodPost, url: u, body: map[string]any{name: req}, token: r.token, anyHost: r.anyHost})
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	act, err := decodeLegacyAction(body, name)
	if err != nil {
		return nil, err
	}
	var statusURL *url.URL
	if act.Href != "" {
		if statusURL, err = u.Parse(act.Href); err != nil || (statusURL.Scheme != "http" && statusURL.Scheme != "https") {
			return nil, protocolError("action %q: bad href %q", name, act.Href)
		}
		if err := r.check(statusURL); err != nil {
			return nil, err
		}
	}
	wait := a.cfg.ActionPollInterval
	for {
		switch act.Status {
		case "completed":
			return nil, nil // Web Thing actions have no output
		case "failed", "error":
			return nil, fmt.Errorf("webthing: thing %q action %q: %w", r.id, name, ErrActionFailed)
		}
		if statusURL == nil {
			return nil, protocolError("action %q is %s but has no href to follow", name, act.Status)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			a.cancelRemoteAction(ctx, r, statusURL)
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
		_, body, err := a.do(ctx, request{method: http.MethodGet, url: statusURL, token: r.token, anyHost: r.anyHost})
		if err != nil {
			if errorsIsContext(err) && ctx.Err() != nil {
				a.cancelRemoteAction(ctx, r, statusURL)
				return nil, ctx.Err()
			}
			return nil, err
		}
		if act, err = decodeLegacyAction(body, name); err != nil {
			return nil, err
		}
	}
}
