package webthing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// Operations on W3C Thing Descriptions, over the HTTP binding: each
// operation uses the affordance's form for its op word, with the default
// method of the binding unless the form names one (htv:methodName).

var defaultMethods = map[string]string{
	thing.OpReadProperty:         http.MethodGet,
	thing.OpWriteProperty:        http.MethodPut,
	thing.OpObserveProperty:      http.MethodGet,
	thing.OpInvokeAction:         http.MethodPost,
	thing.OpQueryAction:          http.MethodGet,
	thing.OpCancelAction:         http.MethodDelete,
	thing.OpSubscribeEvent:       http.MethodGet,
	thing.OpObserveAllProperties: http.MethodGet,
	thing.OpSubscribeAllEvents:   http.MethodGet,
}

// formTarget returns the method and absolute URL of form f for op.
func formTarget(r *remote, f *thing.Form, op string) (string, *url.URL, error) {
	href := f.Href
	if strings.ContainsRune(href, '{') {
		// The gateway seam carries no URI variables: expand to nothing.
		h, err := thing.ExpandTemplate(href, nil)
		if err != nil {
			return "", nil, protocolError("form href %q: %v", href, err)
		}
		href = h
	}
	u, err := r.base.Parse(href)
	if err != nil {
		return "", nil, protocolError("form href %q: %v", href, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", nil, fmt.Errorf("webthing: %s over %q is not supported: %w", op, u.Scheme, gateway.ErrNotSupported)
	}
	if err := r.check(u); err != nil {
		return "", nil, err
	}
	method := defaultMethods[op]
	if raw, ok := f.Extensions["htv:methodName"]; ok {
		var m string
		if err := json.Unmarshal(raw, &m); err != nil || m == "" {
			return "", nil, protocolError("form htv:methodName %s", raw)
		}
		method = m
	}
	return method, u, nil
}

// jsonForm checks that a form exchanges JSON.
func jsonForm(r *remote, f *thing.Form, op, name string) error {
	if ct := f.EffectiveContentType(); !isJSON(ct) {
		return fmt.Errorf("webthing: thing %q: %s %q uses %q, not JSON: %w", r.id, op, name, ct, gateway.ErrNotSupported)
	}
	return nil
}

func noForm(r *remote, op, name string) error {
	return fmt.Errorf("webthing: thing %q offers no %s form for %q: %w", r.id, op, name, gateway.ErrNotSupported)
}

func (a *Adapter) tdRead(ctx context.Context, r *remote, name string) (any, error) {
	p := r.td.Properties[name]
	if p == nil {
		return nil, notFound(r, "property", name)
	}
	f := p.FormFor(thing.OpReadProperty)
	if f == nil {
		return nil, noForm(r, thing.OpReadProperty, name)
	}
	if err := jsonForm(r, f, thing.OpReadProperty, name); err != nil {
		return nil, err
	}
	method, u, err := formTarget(r, f, thing.OpReadProperty)
	if err != nil {
		return nil, err
	}
	_, body, err := a.do(ctx, request{method: method, url: u, token: r.token, anyHost: r.anyHost})
	if err != nil {
		return nil, err
	}
	return decodeJSON(body)
}

func (a *Adapter) tdWrite(ctx context.Context, r *remote, name string, value any) error {
	p := r.td.Properties[name]
	if p == nil {
		return notFound(r, "property", name)
	}
	f := p.FormFor(thing.OpWriteProperty)
	if f == nil || p.ReadOnly {
		return noForm(r, thing.OpWriteProperty, name)
	}
	if err := jsonForm(r, f, thing.OpWriteProperty, name); err != nil {
		return err
	}
	method, u, err := formTarget(r, f, thing.OpWriteProperty)
	if err != nil {
		return err
	}
	body := value
	if body == nil {
		body = json.RawMessage("null")
	}
	_, _, err = a.do(ctx, request{method: method, url: u, body: body, token: r.token, anyHost: r.anyHost})
	return err
}

func (a *Adapter) tdInvoke(ctx context.Context, r *remote, name string, input any) (any, error) {
	act := r.td.Actions[name]
	if act == nil {
		return nil, notFound(r, "action", name)
	}
	f := act.FormFor(thing.OpInvokeAction)
	if f == nil {
		return nil, noForm(r, thing.OpInvokeAction, name)
	}
	if err := jsonForm(r, f, thing.OpInvokeAction, name); err != nil {
		return nil, err
	}
	method, u, err := formTarget(r, f, thing.OpInvokeAction)
	if err != nil {
		return nil, err
	}
	resp, body, err := a.do(ctx, request{method: method, url: u, body: input, token: r.token, anyHost: r.anyHost})
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusCreated, http.StatusAccepted:
		// Asynchronous: an action status resource to poll.
		var st actionStatus
		if len(bytes.TrimSpace(body)) > 0 {
			if st, err = decodeActionStatus(body); err != nil {
				return nil, err
			}
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			loc = st.Href
		}
		if loc == "" {
			if st.Status != "" {
				return st.result(r, name)
			}
			return nil, nil // accepted, nothing to follow
		}
		statusURL, err := u.Parse(loc)
		if err != nil || (statusURL.Scheme != "http" && statusURL.Scheme != "https") {
			return nil, protocolError("action %q: bad status location %q", name, loc)
		}
		if err := r.check(statusURL); err != nil {
			return nil, err
		}
		return a.pollAction(ctx, r, name, statusURL)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	return decodeJSON(body)
}

// actionStatus is the W3C WoT HTTP Basic Profile's action status object.
type actionStatus struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  json.RawMessage `json:"error"`
	Href   string          `json:"href"`
}

// decodeActionStatus decodes an action status body.
func decodeActionStatus(body []byte) (actionStatus, error) {
	var st actionStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return st, protocolError("malformed action status: %v", err)
	}
	switch st.Status {
	case "pending", "running", "completed", "failed", "cancelled", "canceled", "":
		return st, nil
	}
	return st, protocolError("unknown action status %q", st.Status)
}

// ErrActionFailed is wrapped by the error of an action the remote reports
// as failed or cancelled.
var ErrActionFailed = fmt.Errorf("webthing: remote action failed")

// result returns the outcome of a finished action, or ok false.
func (st actionStatus) result(r *remote, name string) (any, error) {
	switch st.Status {
	case "completed", "":
		if len(st.Output) == 0 {
			return nil, nil
		}
		return decodeJSON(st.Output)
	case "failed":
		detail := string(st.Error)
		if len(detail) > 200 {
			detail = detail[:200]
		}
		return nil, fmt.Errorf("webthing: thing %q action %q: %s: %w", r.id, name, detail, ErrActionFailed)
	default: // cancelled by someone else
		return nil, fmt.Errorf("webthing: thing %q action %q was cancelled: %w", r.id, name, ErrActionFailed)
	}
}

// pollAction polls an action status resource until the action ends,
// cancelling it on the remote if ctx ends first.
func (a *Adapter) pollAction(ctx context.Context, r *remote, name string, statusURL *url.URL) (any, error) {
	wait := a.cfg.ActionPollInterval
	for {
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
		st, err := decodeActionStatus(body)
		if err != nil {
			return nil, err
		}
		if st.Status != "pending" && st.Status != "running" {
			return st.result(r, name)
		}
	}
}

// cancelRemoteAction asks the remote to cancel an action, best effort.
func (a *Adapter) cancelRemoteAction(ctx context.Context, r *remote, u *url.URL) {
	_, _, err := a.do(context.WithoutCancel(ctx), request{method: http.MethodDelete, url: u, token: r.token, anyHost: r.anyHost})
	if err != nil {
		a.log.Warn("webthing: cancelling a remote action", "thing", r.id, "err", err)
	}
}

// stream is one Server-Sent Events stream to watch.
type stream struct {
	method string
	url    *url.URL
	kind   streamKind
	name   string // the affordance, for one-affordance streams
}

type streamKind int

const (
	streamProperty streamKind = iota
	streamEvent
	streamAllProperties
	streamAllEvents
)

// isSSEForm reports whether f is a Server-Sent Events form.
func isSSEForm(f *thing.Form) bool {
	return f != nil && (f.Subprotocol == "sse" || strings.HasPrefix(f.EffectiveContentType(), "text/event-stream"))
}

// tdStreams lists the SSE streams that cover r's observable properties and
// events.
func (a *Adapter) tdStreams(r *remote) []stream {
	var out []stream
	add := func(f *thing.Form, op string, kind streamKind, name string) bool {
		if !isSSEForm(f) {
			return false
		}
		method, u, err := formTarget(r, f, op)
		if err != nil {
			a.log.Warn("webthing: unusable SSE form", "thing", r.id, "op", op, "name", name, "err", err)
			return false
		}
		out = append(out, stream{method: method, url: u, kind: kind, name: name})
		return true
	}
	thingOps := func(i int) []string { return r.td.Forms[i].Op.Values }
	if !add(sseFormFor(r.td.Forms, thingOps, thing.OpObserveAllProperties), thing.OpObserveAllProperties, streamAllProperties, "") {
		for _, name := range sortedKeys(r.td.Properties) {
			p := r.td.Properties[name]
			if p.Observable {
				add(sseFormFor(p.Forms, p.Ops, thing.OpObserveProperty), thing.OpObserveProperty, streamProperty, name)
			}
		}
	}
	if !add(sseFormFor(r.td.Forms, thingOps, thing.OpSubscribeAllEvents), thing.OpSubscribeAllEvents, streamAllEvents, "") {
		for _, name := range sortedKeys(r.td.Events) {
			e := r.td.Events[name]
			add(sseFormFor(e.Forms, e.Ops, thing.OpSubscribeEvent), thing.OpSubscribeEvent, streamEvent, name)
		}
	}
	return out
}

// sseFormFor returns the first SSE form among forms that performs op;
// ops(i) gives the ops of forms[i], defaults applied.
func sseFormFor(forms []thing.Form, ops func(int) []string, op string) *thing.Form {
	for i := range forms {
		if isSSEForm(&forms[i]) && slices.Contains(ops(i), op) {
			return &forms[i]
		}
	}
	return nil
}

// handleSSE delivers one Server-Sent Event of stream st to sink.
func (a *Adapter) handleSSE(r *remote, st stream, ev sseEvent, sink gateway.Sink) {
	var v any
	if strings.TrimSpace(ev.Data) != "" {
		var err error
		if v, err = decodeJSON([]byte(ev.Data)); err != nil {
			a.log.Debug("webthing: ignoring a malformed event", "thing", r.id, "err", err)
			return
		}
	}
	switch st.kind {
	case streamProperty:
		sink.PropertyChanged(r.id, st.name, v)
	case streamEvent:
		sink.Event(r.id, st.name, v)
	case streamAllProperties:
		if _, ok := r.td.Properties[ev.Event]; ok {
			sink.PropertyChanged(r.id, ev.Event, v)
			return
		}
		// Some servers send {"name": value, ...} without an event name.
		if m, ok := v.(map[string]any); ok {
			for _, name := range sortedKeys(m) {
				if _, known := r.td.Properties[name]; known {
					sink.PropertyChanged(r.id, name, m[name])
				}
			}
		}
	case streamAllEvents:
		if _, ok := r.td.Events[ev.Event]; ok {
			sink.Event(r.id, ev.Event, v)
		}
	}
}
