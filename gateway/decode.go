package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hearth-wot/hearth/thing"
)

// readBody reads a request body within the Server's size limit.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: limit is %d bytes", errTooLarge, mbe.Limit)
		}
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return b, nil
}

// decodeValue decodes raw, one JSON value, and checks it against sc. The
// error wraps thing.ErrInvalidValue for a value sc rejects (including
// malformed JSON) and errBadBody for an empty body.
func decodeValue(raw []byte, sc *thing.Schema) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty body, a JSON value is required", errBadBody)
	}
	if err := sc.ValidateJSON(raw); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return v, nil
}

// decodeObject decodes raw as a JSON object, keeping its members raw.
// Duplicate member names are rejected.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%w: a JSON object is required", errBadBody)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadBody, err)
		}
		k, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("%w: malformed object", errBadBody)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadBody, err)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: duplicate member %q", errBadBody, k)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	return m, nil
}

// decodeLegacyProperty decodes a WebThings property body {"name": value}
// and returns the raw value.
func decodeLegacyProperty(name string, raw []byte) (json.RawMessage, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	v, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%w: the body must be {%q: value}", errBadBody, name)
	}
	return v, nil
}

// actionRequest is one action requested through the WebThings API.
type actionRequest struct {
	name     string
	input    json.RawMessage // nil when the request has no "input"
	hasInput bool
}

// decodeLegacyActions decodes a WebThings action request body
// {"name": {"input": ...}, ...} (a WebSocket requestAction may name several
// actions; a REST request names one).
func decodeLegacyActions(raw []byte) ([]actionRequest, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: no action named", errBadBody)
	}
	out := make([]actionRequest, 0, len(m))
	for name, body := range m {
		params, err := decodeObject(body)
		if err != nil {
			return nil, fmt.Errorf("action %q: %w", name, err)
		}
		in, ok := params["input"]
		out = append(out, actionRequest{name: name, input: in, hasInput: ok})
	}
	return out, nil
}

// wsMessage is a message a WebThings WebSocket client sends.
type wsMessage struct {
	Type string
	Data map[string]json.RawMessage
	raw  json.RawMessage // the data member, undecoded
}

// decodeWSMessage decodes {"messageType": "...", "data": {...}}.
func decodeWSMessage(raw []byte) (wsMessage, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return wsMessage{}, err
	}
	var msg wsMessage
	t, ok := m["messageType"]
	if !ok {
		return msg, fmt.Errorf("%w: missing messageType", errBadBody)
	}
	if err := json.Unmarshal(t, &msg.Type); err != nil {
		return msg, fmt.Errorf("%w: messageType must be a string", errBadBody)
	}
	d, ok := m["data"]
	if !ok {
		return msg, fmt.Errorf("%w: missing data", errBadBody)
	}
	if msg.Data, err = decodeObject(d); err != nil {
		return msg, fmt.Errorf("data: %w", err)
	}
	msg.raw = d
	return msg, nil
}
