package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway/access"
)

// serveWebThings serves the WebThings Web Thing API below its mount path.
func (s *Server) serveWebThings(w http.ResponseWriter, r *http.Request, rest []string) {
	if s.cfg.WebThings.Layout == WebThingsMulti {
		if len(rest) == 0 {
			s.serveLegacyList(w, r)
			return
		}
		idx, err := strconv.Atoi(rest[0])
		var e *entry
		if err == nil && idx >= 0 && strconv.Itoa(idx) == rest[0] {
			e = s.reg.at(idx)
		}
		if e == nil {
			c := &caller{token: bearerToken(r, websocket.IsWebSocketUpgrade(r))}
			if err := s.verify(r.Context(), c, access.Request{}); err != nil {
				s.authError(w, c, err)
				return
			}
			notFound(w)
			return
		}
		s.serveLegacyThing(w, r, e, rest[1:])
		return
	}
	e := s.singleThing()
	if e == nil {
		notFound(w)
		return
	}
	s.serveLegacyThing(w, r, e, rest)
}

// singleThing is the thing of the single-thing layout.
func (s *Server) singleThing() *entry {
	if id := s.cfg.WebThings.ThingID; id != "" {
		return s.reg.get(id)
	}
	var first *entry
	for _, e := range s.reg.list() {
		if first == nil || e.index < first.index {
			first = e
		}
	}
	return first
}

// serveLegacyList serves the multi-thing layout's root: the WebThings TDs of
// the things the caller may use.
func (s *Server) serveLegacyList(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	c := &caller{token: bearerToken(r, false)}
	o := s.originOf(r)
	out := []*legacyTD{}
	for _, e := range s.reg.byIndexOrder() {
		v, err := s.viewOf(r.Context(), c, e)
		if err != nil {
			s.authError(w, c, err)
			return
		}
		if v.empty() {
			continue
		}
		td, err := s.legacyTD(e, v, o)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, td)
	}
	if err := s.verifyOnce(r.Context(), c, access.Request{}); err != nil {
		s.authError(w, c, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, b)
}

// serveLegacyThing serves one thing of the WebThings API; rest is the path
// below the thing.
func (s *Server) serveLegacyThing(w http.ResponseWriter, r *http.Request, e *entry, rest []string) {
	isWS := len(rest) == 0 && websocket.IsWebSocketUpgrade(r)
	c := &caller{token: bearerToken(r, isWS)}
	id := e.id
	if len(rest) == 0 {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		v, err := s.viewOf(r.Context(), c, e)
		if err != nil {
			s.authError(w, c, err)
			return
		}
		if v.empty() {
			s.authError(w, c, errForbidden)
			return
		}
		if isWS {
			s.serveWebSocket(w, r, c, e)
			return
		}
		b, err := s.renderLegacyTD(e, v, s.originOf(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ctJSON, b)
		return
	}
	switch rest[0] {
	case "properties":
		switch len(rest) {
		case 1:
			if r.Method != http.MethodGet {
				methodNotAllowed(w, "GET")
				return
			}
			s.readAll(w, r, c, id, e)
			return
		case 2:
			switch r.Method {
			case http.MethodGet:
				s.legacyReadProperty(w, r, c, e, rest[1])
			case http.MethodPut:
				s.legacyWriteProperty(w, r, c, e, rest[1])
			default:
				methodNotAllowed(w, "GET, PUT")
			}
			return
		}
	case "actions":
		name := ""
		if len(rest) >= 2 {
			name = rest[1]
		}
		switch len(rest) {
		case 1, 2:
			switch r.Method {
			case http.MethodGet:
				s.legacyListActions(w, r, c, e, name)
			case http.MethodPost:
				s.legacyRequestAction(w, r, c, e, name)
			default:
				methodNotAllowed(w, "GET, POST")
			}
			return
		case 3:
			s.legacyAction(w, r, c, e, name, rest[2])
			return
		}
	case "events":
		switch len(rest) {
		case 1, 2:
			if r.Method != http.MethodGet {
				methodNotAllowed(w, "GET")
				return
			}
			name := ""
			if len(rest) == 2 {
				name = rest[1]
			}
			s.legacyListEvents(w, r, c, e, name)
			return
		}
	}
	notFound(w)
}

// wrap writes {"name": value}.
func wrap(name string, value []byte) []byte {
	key, _ := json.Marshal(name)
	b := make([]byte, 0, len(key)+len(value)+3)
	b = append(b, '{')
	b = append(b, key...)
	b = append(b, ':')
	b = append(b, value...)
	return append(b, '}')
}

func (s *Server) legacyReadProperty(w http.ResponseWriter, r *http.Request, c *caller, e *entry, name string) {
	pi := e.props[name]
	if !s.gate(w, r, c, pi != nil, access.Request{ThingID: e.id, Op: opNames[opReadProperty], Name: name}) {
		return
	}
	if pi.p.WriteOnly {
		s.fail(w, r, errWriteOnly)
		return
	}
	b, err := s.readValue(r.Context(), e, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, wrap(name, b))
}

// legacyWriteProperty serves PUT …/properties/{name} with {"name": value}
// and answers 200 with the value written.
func (s *Server) legacyWriteProperty(w http.ResponseWriter, r *http.Request, c *caller, e *entry, name string) {
	pi := e.props[name]
	if !s.gate(w, r, c, pi != nil, access.Request{ThingID: e.id, Op: opNames[opWriteProperty], Name: name}) {
		return
	}
	if err := checkWritable(e, pi); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	raw, err := decodeLegacyProperty(name, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := decodeValue(raw, pi.schema)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.writeValue(r.Context(), e, name, v); err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, wrap(name, b))
}

// legacyListActions serves GET …/actions (name "") and …/actions/{name}:
// the action requests as a list of {"name": description}.
func (s *Server) legacyListActions(w http.ResponseWriter, r *http.Request, c *caller, e *entry, name string) {
	if name == "" {
		if !s.gate(w, r, c, true, access.Request{ThingID: e.id, Op: opNames[opQueryAllActions]}) {
			return
		}
	} else if !s.gate(w, r, c, e.actions[name] != nil, access.Request{ThingID: e.id, Op: opNames[opQueryAction], Name: name}) {
		return
	}
	allowed := map[string]bool{}
	for _, n := range e.actionNames {
		if name != "" && n != name {
			continue
		}
		ok, err := s.authorize(r.Context(), c, access.Request{ThingID: e.id, Op: opNames[opQueryAction], Name: n})
		if err != nil {
			s.authError(w, c, err)
			return
		}
		allowed[n] = ok
	}
	o := s.originOf(r)
	out := []json.RawMessage{}
	for _, rec := range e.acts.list(c.owner(), name) {
		if allowed[rec.name] {
			out = append(out, rec.legacyStatus(s.legacyActionHref(o, e, rec)))
		}
	}
	b, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, ctJSON, b)
}

func (s *Server) legacyActionHref(o origin, e *entry, rec *actionRec) string {
	return s.legacyHref(o, e) + "/actions/" + url.PathEscape(rec.name) + "/" + rec.id
}

// legacyRequestAction serves POST …/actions and …/actions/{name} with
// {"name": {"input": …}} and answers 201 with the new request.
func (s *Server) legacyRequestAction(w http.ResponseWriter, r *http.Request, c *caller, e *entry, urlName string) {
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reqs, err := decodeLegacyActions(body)
	if err != nil {
		// An unauthenticated caller learns nothing more than 401.
		if aerr := s.verify(r.Context(), c, access.Request{ThingID: e.id, Op: opNames[opInvokeAction], Name: urlName}); aerr != nil {
			s.authError(w, c, aerr)
			return
		}
		s.fail(w, r, err)
		return
	}
	if len(reqs) != 1 || (urlName != "" && reqs[0].name != urlName) {
		name := urlName
		if name == "" {
			name = reqs[0].name
		}
		if !s.gate(w, r, c, e.actions[name] != nil, access.Request{ThingID: e.id, Op: opNames[opInvokeAction], Name: name}) {
			return
		}
		s.fail(w, r, fmt.Errorf("%w: the body must name exactly the one action requested", errBadBody))
		return
	}
	rec, ok := s.requestAction(w, r, c, e, reqs[0])
	if !ok {
		return
	}
	writeJSON(w, http.StatusCreated, ctJSON, rec.legacyStatus(s.legacyActionHref(s.originOf(r), e, rec)))
}

// requestAction authorizes, validates and starts one WebThings action
// request. When it fails it writes the error response and reports false.
func (s *Server) requestAction(w http.ResponseWriter, r *http.Request, c *caller, e *entry, req actionRequest) (*actionRec, bool) {
	ai := e.actions[req.name]
	if !s.gate(w, r, c, ai != nil, access.Request{ThingID: e.id, Op: opNames[opInvokeAction], Name: req.name}) {
		return nil, false
	}
	input, raw, err := decodeActionInput(ai, req)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	rec, err := s.startAction(c, e, ai, req.name, input, raw)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return rec, true
}

// decodeActionInput validates a WebThings action request's input against
// the action's input schema. A request without input is checked as null.
func decodeActionInput(ai *actionInfo, req actionRequest) (any, json.RawMessage, error) {
	if !req.hasInput {
		if ai.a.Input != nil {
			if err := ai.input.Validate(nil); err != nil {
				return nil, nil, fmt.Errorf("%w: the action needs an input", errBadBody)
			}
		}
		return nil, nil, nil
	}
	v, err := decodeValue(req.input, ai.input)
	if err != nil {
		return nil, nil, err
	}
	return v, req.input, nil
}

// legacyAction serves …/actions/{name}/{id}: GET describes the request,
// PUT is accepted and ignored (as in the webthing libraries), DELETE
// cancels and removes it.
func (s *Server) legacyAction(w http.ResponseWriter, r *http.Request, c *caller, e *entry, name, aid string) {
	var op opIndex
	switch r.Method {
	case http.MethodGet, http.MethodPut:
		op = opQueryAction
	case http.MethodDelete:
		op = opCancelAction
	default:
		methodNotAllowed(w, "GET, PUT, DELETE")
		return
	}
	if !s.gate(w, r, c, e.actions[name] != nil, access.Request{ThingID: e.id, Op: opNames[op], Name: name}) {
		return
	}
	switch r.Method {
	case http.MethodDelete:
		if e.acts.cancel(c.owner(), name, aid) == nil {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		if e.acts.get(c.owner(), name, aid) == nil {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, ctJSON, []byte("{}"))
	default:
		rec := e.acts.get(c.owner(), name, aid)
		if rec == nil {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, ctJSON, rec.legacyStatus(s.legacyActionHref(s.originOf(r), e, rec)))
	}
}

// legacyListEvents serves GET …/events (name "") and …/events/{name}: the
// logged events as a list of {"name": {"data": …, "timestamp": …}}.
func (s *Server) legacyListEvents(w http.ResponseWriter, r *http.Request, c *caller, e *entry, name string) {
	if name == "" {
		if !s.gate(w, r, c, true, access.Request{ThingID: e.id, Op: opNames[opSubscribeAllEvents]}) {
			return
		}
	} else if !s.gate(w, r, c, e.events[name] != nil, access.Request{ThingID: e.id, Op: opNames[opSubscribeEvent], Name: name}) {
		return
	}
	allowed := map[string]bool{}
	for _, n := range e.eventNames {
		if name != "" && n != name {
			continue
		}
		ok, err := s.authorize(r.Context(), c, access.Request{ThingID: e.id, Op: opNames[opSubscribeEvent], Name: n})
		if err != nil {
			s.authError(w, c, err)
			return
		}
		allowed[n] = ok
	}
	out := []json.RawMessage{}
	for _, m := range e.evlog.list(name) {
		if !allowed[m.name] {
			continue
		}
		d := struct {
			Data      json.RawMessage `json:"data,omitempty"`
			Timestamp string          `json:"timestamp"`
		}{m.value, wtTime(m.at)}
		b, _ := json.Marshal(map[string]any{m.name: d})
		out = append(out, b)
	}
	b, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, ctJSON, b)
}
