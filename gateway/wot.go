package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hearth-wot/hearth/gateway/access"
)

// gate authorizes req for c. It answers 401 for an unacceptable token,
// 404 when the target is unknown (known false) and 403 when the token does
// not cover req. It reports whether the request may go on.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, c *caller, known bool, req access.Request) bool {
	ok, err := s.authorize(r.Context(), c, req)
	if err != nil {
		s.authError(w, c, err)
		return false
	}
	if !known {
		notFound(w)
		return false
	}
	if !ok {
		s.authError(w, c, errForbidden)
		return false
	}
	return true
}

// readValue reads a property through its adapter and encodes it.
func (s *Server) readValue(ctx context.Context, e *entry, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DeviceTimeout)
	defer cancel()
	v, err := e.ad.a.ReadProperty(ctx, e.id, name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gateway: encoding %s/%s: %w", e.id, name, err)
	}
	return b, nil
}

// checkWritable reports why a property cannot be written, if it cannot.
func checkWritable(e *entry, pi *propInfo) error {
	if pi.p.ReadOnly {
		return errReadOnly
	}
	if e.ad.writer == nil {
		return fmt.Errorf("%w: the adapter cannot write properties", ErrNotSupported)
	}
	return nil
}

// writeValue writes v, already validated, to a property and tells the
// property's observers.
func (s *Server) writeValue(ctx context.Context, e *entry, name string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DeviceTimeout)
	defer cancel()
	if err := e.ad.writer.WriteProperty(ctx, e.id, name, v); err != nil {
		return err
	}
	s.propertyChanged(e, name, v)
	return nil
}

// serveDirectoryTD serves /.well-known/wot: the directory's own TD. It is
// public: it describes how to authenticate and holds no personal data.
func (s *Server) serveDirectoryTD(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	b, err := s.directoryTD(s.originOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctTD, b)
}

// serveListing serves GET /things: the TDs of the things the caller may
// use, each trimmed to what it may do, sorted by id, optionally paginated
// with ?offset= and ?limit=.
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	q := r.URL.Query()
	offset, limit := 0, -1
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, "", "offset must be a non-negative integer")
			return
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeProblem(w, http.StatusBadRequest, "", "limit must be a positive integer")
			return
		}
		limit = n
	}
	c := &caller{token: bearerToken(r, false)}
	o := s.originOf(r)
	var tds []json.RawMessage
	visible := 0
	for _, e := range s.reg.list() {
		v, err := s.viewOf(r.Context(), c, e)
		if err != nil {
			s.authError(w, c, err)
			return
		}
		if v.empty() {
			continue
		}
		visible++
		if visible <= offset || (limit >= 0 && len(tds) >= limit) {
			continue
		}
		b, err := s.renderTD(e, v, o)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		tds = append(tds, b)
	}
	// No thing at all: the token must still be checked.
	if err := s.verifyOnce(r.Context(), c, access.Request{}); err != nil {
		s.authError(w, c, err)
		return
	}
	if limit >= 0 && offset+limit < visible {
		next := fmt.Sprintf("%sthings?offset=%d&limit=%d", o.base(), offset+limit, limit)
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	if tds == nil {
		tds = []json.RawMessage{}
	}
	b, err := json.Marshal(tds)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctLDJSON, b)
}

// serveThing serves /things/{id}/...
func (s *Server) serveThing(w http.ResponseWriter, r *http.Request, id string, rest []string) {
	e := s.reg.get(id)
	if len(rest) == 0 {
		s.serveTD(w, r, id, e)
		return
	}
	c := &caller{token: bearerToken(r, false)}
	switch rest[0] {
	case "properties":
		switch len(rest) {
		case 1:
			switch r.Method {
			case http.MethodGet:
				if r.URL.Query().Has("name") {
					s.readMultiple(w, r, c, id, e)
				} else {
					s.readAll(w, r, c, id, e)
				}
			case http.MethodPut:
				s.writeMultiple(w, r, c, id, e)
			default:
				methodNotAllowed(w, "GET, PUT")
			}
			return
		case 2:
			switch r.Method {
			case http.MethodGet:
				s.readProperty(w, r, c, id, e, rest[1])
			case http.MethodPut:
				s.writeProperty(w, r, c, id, e, rest[1])
			default:
				methodNotAllowed(w, "GET, PUT")
			}
			return
		case 3:
			if rest[2] == "observable" {
				if r.Method != http.MethodGet {
					methodNotAllowed(w, "GET")
					return
				}
				s.observeProperty(w, r, c, id, e, rest[1])
				return
			}
		}
	case "actions":
		switch len(rest) {
		case 1:
			if r.Method != http.MethodGet {
				methodNotAllowed(w, "GET")
				return
			}
			s.queryAllActions(w, r, c, id, e)
			return
		case 2:
			if r.Method != http.MethodPost {
				methodNotAllowed(w, "POST")
				return
			}
			s.invokeAction(w, r, c, id, e, rest[1])
			return
		case 3:
			switch r.Method {
			case http.MethodGet:
				s.queryAction(w, r, c, id, e, rest[1], rest[2])
			case http.MethodDelete:
				s.cancelAction(w, r, c, id, e, rest[1], rest[2])
			default:
				methodNotAllowed(w, "GET, DELETE")
			}
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
			s.subscribeEvents(w, r, c, id, e, name)
			return
		}
	}
	notFound(w)
}

// serveTD serves GET /things/{id}: the thing's TD 1.1, trimmed to what the
// caller may do.
func (s *Server) serveTD(w http.ResponseWriter, r *http.Request, id string, e *entry) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	c := &caller{token: bearerToken(r, false)}
	if e == nil {
		if err := s.verify(r.Context(), c, access.Request{ThingID: id}); err != nil {
			s.authError(w, c, err)
			return
		}
		notFound(w)
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
	b, err := s.renderTD(e, v, s.originOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctTD, b)
}

func (s *Server) readProperty(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name string) {
	pi := e.prop(name)
	if !s.gate(w, r, c, pi != nil, access.Request{ThingID: id, Op: opNames[opReadProperty], Name: name}) {
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
	writeJSON(w, http.StatusOK, ctJSON, b)
}

func (s *Server) writeProperty(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name string) {
	pi := e.prop(name)
	if !s.gate(w, r, c, pi != nil, access.Request{ThingID: id, Op: opNames[opWriteProperty], Name: name}) {
		return
	}
	if err := checkWritable(e, pi); err != nil {
		s.fail(w, r, err)
		return
	}
	raw, err := readBody(r)
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
	w.WriteHeader(http.StatusNoContent)
}

// readAll serves readallproperties: the thing-level operation must be
// allowed, and the answer holds the properties whose readproperty is
// allowed too.
func (s *Server) readAll(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry) {
	if !s.gate(w, r, c, e != nil, access.Request{ThingID: id, Op: opNames[opReadAllProperties]}) {
		return
	}
	var names []string
	for _, n := range e.propNames {
		if !e.props[n].offer.has(opReadProperty) {
			continue
		}
		ok, err := s.authorize(r.Context(), c, access.Request{ThingID: id, Op: opNames[opReadProperty], Name: n})
		if err != nil {
			s.authError(w, c, err)
			return
		}
		if ok {
			names = append(names, n)
		}
	}
	s.writeValues(w, r, e, names)
}

// readMultiple serves readmultipleproperties: GET …/properties?name=a&name=b
// (or name=a,b). Every name must exist, be readable and be allowed.
func (s *Server) readMultiple(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry) {
	if !s.gate(w, r, c, e != nil, access.Request{ThingID: id, Op: opNames[opReadMultipleProperties]}) {
		return
	}
	var names []string
	for _, v := range r.URL.Query()["name"] {
		for n := range strings.SplitSeq(v, ",") {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) > len(e.props) {
		notFound(w)
		return
	}
	for _, n := range names {
		pi := e.props[n]
		if !s.gate(w, r, c, pi != nil, access.Request{ThingID: id, Op: opNames[opReadProperty], Name: n}) {
			return
		}
		if pi.p.WriteOnly {
			s.fail(w, r, errWriteOnly)
			return
		}
	}
	s.writeValues(w, r, e, names)
}

// writeValues reads names and writes them as one JSON object.
func (s *Server) writeValues(w http.ResponseWriter, r *http.Request, e *entry, names []string) {
	out := make(map[string]json.RawMessage, len(names))
	for _, n := range names {
		b, err := s.readValue(r.Context(), e, n)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out[n] = b
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, b)
}

// writeMultiple serves writemultipleproperties: PUT …/properties with an
// object of values. Every value is authorized and validated before any is
// written; a device failure part way through leaves the earlier writes
// applied.
func (s *Server) writeMultiple(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry) {
	if !s.gate(w, r, c, e != nil, access.Request{ThingID: id, Op: opNames[opWriteMultipleProperties]}) {
		return
	}
	raw, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := decodeObject(raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	values := make([]any, len(names))
	for i, n := range names {
		pi := e.props[n]
		if !s.gate(w, r, c, pi != nil, access.Request{ThingID: id, Op: opNames[opWriteProperty], Name: n}) {
			return
		}
		if err := checkWritable(e, pi); err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := decodeValue(m[n], pi.schema)
		if err != nil {
			s.fail(w, r, fmt.Errorf("property %q: %w", n, err))
			return
		}
		values[i] = v
	}
	for i, n := range names {
		if err := s.writeValue(r.Context(), e, n, values[i]); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// invokeAction serves invokeaction. A synchronous action (the TD says
// "synchronous": true) is answered 200 with its output; any other is queued
// and answered 201 with its status and a Location to query or cancel it.
func (s *Server) invokeAction(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name string) {
	ai := e.action(name)
	if !s.gate(w, r, c, ai != nil, access.Request{ThingID: id, Op: opNames[opInvokeAction], Name: name}) {
		return
	}
	if e.ad.invoker == nil {
		s.fail(w, r, fmt.Errorf("%w: the adapter cannot invoke actions", ErrNotSupported))
		return
	}
	raw, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var input any
	var rawInput json.RawMessage
	if len(strings.TrimSpace(string(raw))) > 0 {
		if input, err = decodeValue(raw, ai.input); err != nil {
			s.fail(w, r, err)
			return
		}
		rawInput = raw
	} else if err := ai.input.Validate(nil); err != nil && ai.a.Input != nil {
		s.fail(w, r, fmt.Errorf("%w: the action needs an input", errBadBody))
		return
	}
	if ai.a.Synchronous != nil && *ai.a.Synchronous {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DeviceTimeout)
		out, err := e.ad.invoker.InvokeAction(ctx, e.id, name, input)
		cancel()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ctJSON, b)
		return
	}
	rec, err := s.startAction(c, e, ai, name, input, rawInput)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	o := s.originOf(r)
	href := thingPath(e.id) + "/actions/" + url.PathEscape(name) + "/" + rec.id
	w.Header().Set("Location", o.base()+href)
	writeJSON(w, http.StatusCreated, ctJSON, rec.w3cStatus(href))
}

func (s *Server) queryAction(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name, aid string) {
	ai := e.action(name)
	if !s.gate(w, r, c, ai != nil, access.Request{ThingID: id, Op: opNames[opQueryAction], Name: name}) {
		return
	}
	rec := e.acts.get(c.owner(), name, aid)
	if rec == nil {
		notFound(w)
		return
	}
	href := thingPath(e.id) + "/actions/" + url.PathEscape(name) + "/" + aid
	writeJSON(w, http.StatusOK, ctJSON, rec.w3cStatus(href))
}

func (s *Server) cancelAction(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name, aid string) {
	ai := e.action(name)
	if !s.gate(w, r, c, ai != nil, access.Request{ThingID: id, Op: opNames[opCancelAction], Name: name}) {
		return
	}
	if e.acts.cancel(c.owner(), name, aid) == nil {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// queryAllActions serves queryallactions: {"name": [status, ...], ...} for
// the actions whose queryaction is allowed too.
func (s *Server) queryAllActions(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry) {
	if !s.gate(w, r, c, e != nil, access.Request{ThingID: id, Op: opNames[opQueryAllActions]}) {
		return
	}
	out := make(map[string][]json.RawMessage)
	for _, n := range e.actionNames {
		ok, err := s.authorize(r.Context(), c, access.Request{ThingID: id, Op: opNames[opQueryAction], Name: n})
		if err != nil {
			s.authError(w, c, err)
			return
		}
		if !ok {
			continue
		}
		list := []json.RawMessage{}
		for _, rec := range e.acts.list(c.owner(), n) {
			href := thingPath(e.id) + "/actions/" + url.PathEscape(n) + "/" + rec.id
			list = append(list, rec.w3cStatus(href))
		}
		out[n] = list
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, b)
}
