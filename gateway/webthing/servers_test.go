package webthing_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Test servers that mimic the two kinds of remote: a WebThings server in
// the manner of webthing-python (single- and multiple-thing layouts) and a
// W3C Thing with TD 1.1 forms and Server-Sent Events.

// legacyServer serves WebThings "lamps" at "/" (one thing) or "/0", "/1",
// ... (several).
type legacyServer struct {
	*httptest.Server
	things []*legacyLamp
	multi  bool
}

// legacyLamp is one WebThings lamp: on, brightness, a read-only
// temperature, a fade action and an overheated event.
type legacyLamp struct {
	id, prefix string

	mu       sync.Mutex
	props    map[string]any
	actions  map[string]*legacyRequest
	seq      int
	conns    map[*websocket.Conn]*sync.Mutex
	dials    int
	subs     []string // events named in addEventSubscription messages
	auth     []string // Authorization headers seen
	deleted  []string // action hrefs deleted
	inputs   []any    // action inputs received
	failNext int      // answer the next requests with 500
	quit     chan struct{}
}

type legacyRequest struct {
	name, href, status string
	input              any
}

func newLegacyServer(t *testing.T, n int) *legacyServer {
	t.Helper()
	s := &legacyServer{multi: n > 0}
	if n == 0 {
		s.things = []*legacyLamp{newLegacyLamp("urn:dev:ops:my-lamp-1234", "")}
	}
	for i := range n {
		s.things = append(s.things, newLegacyLamp(fmt.Sprintf("urn:dev:ops:lamp-%d", i), "/"+strconv.Itoa(i)))
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		for _, l := range s.things {
			close(l.quit)
		}
		s.Close()
	})
	return s
}

func newLegacyLamp(id, prefix string) *legacyLamp {
	return &legacyLamp{
		id: id, prefix: prefix,
		props:   map[string]any{"on": false, "brightness": 50.0, "temperature": 21.5},
		actions: map[string]*legacyRequest{},
		conns:   map[*websocket.Conn]*sync.Mutex{},
		quit:    make(chan struct{}),
	}
}

// after waits d, reporting false if the server shuts down first.
func after(d time.Duration, quit chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-quit:
		return false
	}
}

var upgrader = websocket.Upgrader{}

func (s *legacyServer) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if s.multi && path == "/" {
		var tds []any
		for _, l := range s.things {
			tds = append(tds, l.description(r.Host))
		}
		writeJSON(w, http.StatusOK, tds)
		return
	}
	for _, l := range s.things {
		if l.prefix == "" || path == l.prefix || strings.HasPrefix(path, l.prefix+"/") {
			l.serve(w, r, strings.TrimPrefix(path, l.prefix))
			return
		}
	}
	http.NotFound(w, r)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (l *legacyLamp) description(host string) map[string]any {
	link := func(rel, href string) []any { return []any{map[string]any{"rel": rel, "href": l.prefix + href}} }
	return map[string]any{
		"id":          l.id,
		"title":       "My Lamp",
		"@context":    "https://webthings.io/schemas",
		"@type":       []any{"OnOffSwitch", "Light"},
		"description": "A web connected lamp",
		"href":        cmpOr(l.prefix, "/"),
		"properties": map[string]any{
			"on": map[string]any{"@type": "OnOffProperty", "title": "On/Off", "type": "boolean",
				"links": link("property", "/properties/on")},
			"brightness": map[string]any{"@type": "BrightnessProperty", "title": "Brightness", "type": "integer",
				"minimum": 0, "maximum": 100, "unit": "percent", "links": link("property", "/properties/brightness")},
			"temperature": map[string]any{"title": "Temperature", "type": "number", "readOnly": true,
				"links": link("property", "/properties/temperature")},
		},
		"actions": map[string]any{
			"fade": map[string]any{"@type": "FadeAction", "title": "Fade",
				"input": map[string]any{"type": "object", "required": []any{"brightness", "duration"},
					"properties": map[string]any{
						"brightness": map[string]any{"type": "integer", "minimum": 0, "maximum": 100},
						"duration":   map[string]any{"type": "integer", "minimum": 1, "unit": "milliseconds"}}},
				"links": link("action", "/actions/fade")},
		},
		"events": map[string]any{
			"overheated": map[string]any{"@type": "OverheatedEvent", "title": "Overheated", "type": "number",
				"unit": "degree celsius", "links": link("event", "/events/overheated")},
		},
		"links": []any{
			map[string]any{"rel": "properties", "href": l.prefix + "/properties"},
			map[string]any{"rel": "actions", "href": l.prefix + "/actions"},
			map[string]any{"rel": "events", "href": l.prefix + "/events"},
			map[string]any{"rel": "alternate", "href": "ws://" + host + cmpOr(l.prefix, "/")},
		},
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (l *legacyLamp) serve(w http.ResponseWriter, r *http.Request, path string) {
	l.mu.Lock()
	l.auth = append(l.auth, r.Header.Get("Authorization"))
	if l.failNext > 0 {
		l.failNext--
		l.mu.Unlock()
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	}
	l.mu.Unlock()
	switch {
	case (path == "" || path == "/") && websocket.IsWebSocketUpgrade(r):
		l.serveWebSocket(w, r)
	case path == "" || path == "/":
		writeJSON(w, http.StatusOK, l.description(r.Host))
	case strings.HasPrefix(path, "/properties/"):
		name := strings.TrimPrefix(path, "/properties/")
		l.mu.Lock()
		v, ok := l.props[name]
		l.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{name: v})
		case http.MethodPut:
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			nv, ok := body[name]
			if !ok || name == "temperature" {
				http.Error(w, "bad property", http.StatusBadRequest)
				return
			}
			l.set(name, nv)
			writeJSON(w, http.StatusOK, map[string]any{name: nv})
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	case path == "/actions/fade" && r.Method == http.MethodPost:
		var body map[string]map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["fade"] == nil {
			http.Error(w, "bad action request", http.StatusBadRequest)
			return
		}
		input, _ := body["fade"]["input"].(map[string]any)
		l.mu.Lock()
		l.seq++
		req := &legacyRequest{name: "fade", href: fmt.Sprintf("%s/actions/fade/%d", l.prefix, l.seq), status: "created", input: input}
		l.actions[req.href] = req
		l.inputs = append(l.inputs, body["fade"]["input"])
		l.mu.Unlock()
		d, _ := input["duration"].(float64)
		go func() {
			if !after(time.Duration(d)*time.Millisecond, l.quit) {
				return
			}
			l.mu.Lock()
			if req.status == "created" {
				req.status = "completed"
			}
			l.mu.Unlock()
			if b, ok := input["brightness"].(float64); ok {
				l.set("brightness", b)
			}
		}()
		writeJSON(w, http.StatusCreated, map[string]any{"fade": map[string]any{"input": input, "href": req.href, "status": "created"}})
	case strings.HasPrefix(path, "/actions/fade/"):
		l.mu.Lock()
		req, ok := l.actions[r.URL.Path]
		if ok && r.Method == http.MethodDelete {
			delete(l.actions, r.URL.Path)
			req.status = "deleted"
			l.deleted = append(l.deleted, r.URL.Path)
		}
		var desc map[string]any
		if ok {
			desc = map[string]any{"fade": map[string]any{"href": req.href, "status": req.status}}
		}
		l.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, desc)
		}
	default:
		http.NotFound(w, r)
	}
}

// set changes a property and tells every WebSocket client.
func (l *legacyLamp) set(name string, v any) {
	l.mu.Lock()
	l.props[name] = v
	l.mu.Unlock()
	l.broadcast(map[string]any{"messageType": "propertyStatus", "data": map[string]any{name: v}})
}

// emit sends an event to the clients.
func (l *legacyLamp) emit(name string, data any) {
	l.broadcast(map[string]any{"messageType": "event", "data": map[string]any{
		name: map[string]any{"data": data, "timestamp": "2026-01-02T03:04:05+00:00"}}})
}

func (l *legacyLamp) broadcast(msg any) {
	l.sendRaw(mustJSON(msg))
}

func (l *legacyLamp) sendRaw(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, wmu := range l.conns {
		wmu.Lock()
		c.WriteMessage(websocket.TextMessage, b)
		wmu.Unlock()
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// drop closes every WebSocket connection.
func (l *legacyLamp) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}

func (l *legacyLamp) connections() (open, dials int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns), l.dials
}

func (l *legacyLamp) subscriptions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.subs...)
}

func (l *legacyLamp) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.conns[c] = &sync.Mutex{}
	l.dials++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		c.Close()
	}()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		var msg struct {
			MessageType string                     `json:"messageType"`
			Data        map[string]json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &msg) != nil {
			continue
		}
		if msg.MessageType == "addEventSubscription" {
			l.mu.Lock()
			for name := range msg.Data {
				l.subs = append(l.subs, name)
			}
			l.mu.Unlock()
		}
	}
}

// tdServer serves one W3C Thing at /td with TD 1.1 forms: properties at
// /properties/{name} (observable over SSE at /properties/{name}/sse), an
// asynchronous action "fade" and a synchronous action "add", and an event
// "overheated" over SSE. With allForms, it also offers the thing-level
// observeallproperties and subscribeallevents SSE forms.
type tdServer struct {
	*httptest.Server
	allForms bool

	mu       sync.Mutex
	props    map[string]any
	streams  map[chan sseOut]string // stream → what it carries ("prop:on", "event:overheated", "all-props", "all-events")
	opened   int
	statuses map[string]map[string]any
	seq      int
	deleted  []string
	auth     []string
	quit     chan struct{}
}

type sseOut struct{ event, data string }

func newTDServer(t *testing.T, allForms bool) *tdServer {
	t.Helper()
	s := &tdServer{
		allForms: allForms,
		props:    map[string]any{"on": false, "brightness": 50.0, "temperature": 21.5},
		streams:  map[chan sseOut]string{},
		statuses: map[string]map[string]any{},
		quit:     make(chan struct{}),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.quit)
		s.closeStreams()
		s.Close()
	})
	return s
}

func (s *tdServer) description() map[string]any {
	prop := func(name string, schema map[string]any) map[string]any {
		forms := []any{
			map[string]any{"href": "properties/" + name, "op": []any{"readproperty", "writeproperty"}},
			map[string]any{"href": "properties/" + name + "/sse", "op": "observeproperty", "subprotocol": "sse"},
		}
		if schema["readOnly"] == true {
			forms[0] = map[string]any{"href": "properties/" + name, "op": "readproperty"}
		}
		schema["forms"] = forms
		schema["observable"] = true
		return schema
	}
	td := map[string]any{
		"@context":            "https://www.w3.org/2022/wot/td/v1.1",
		"id":                  "urn:example:td-lamp",
		"title":               "TD Lamp",
		"@type":               "saref:LightSwitch",
		"base":                s.URL + "/",
		"securityDefinitions": map[string]any{"nosec_sc": map[string]any{"scheme": "nosec"}},
		"security":            "nosec_sc",
		"properties": map[string]any{
			"on":          prop("on", map[string]any{"type": "boolean"}),
			"brightness":  prop("brightness", map[string]any{"type": "integer", "minimum": 0, "maximum": 100}),
			"temperature": prop("temperature", map[string]any{"type": "number", "readOnly": true}),
		},
		"actions": map[string]any{
			"fade": map[string]any{"input": map[string]any{"type": "object"}, "synchronous": false,
				"forms": []any{map[string]any{"href": "actions/fade"}}},
			"add": map[string]any{"input": map[string]any{"type": "array"}, "output": map[string]any{"type": "number"},
				"synchronous": true, "forms": []any{map[string]any{"href": "actions/add", "htv:methodName": "PUT"}}},
		},
		"events": map[string]any{
			"overheated": map[string]any{"data": map[string]any{"type": "number"},
				"forms": []any{map[string]any{"href": "events/overheated", "subprotocol": "sse"}}},
		},
	}
	if s.allForms {
		td["forms"] = []any{
			map[string]any{"href": "properties/observe", "op": "observeallproperties", "subprotocol": "sse"},
			map[string]any{"href": "events", "op": "subscribeallevents", "subprotocol": "sse"},
		}
	}
	return td
}

func (s *tdServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	path := r.URL.Path
	switch {
	case path == "/td":
		w.Header().Set("Content-Type", "application/td+json")
		json.NewEncoder(w).Encode(s.description())
	case path == "/properties/observe" && s.allForms:
		s.stream(w, r, "all-props")
	case path == "/events" && s.allForms:
		s.stream(w, r, "all-events")
	case path == "/events/overheated":
		s.stream(w, r, "event:overheated")
	case strings.HasSuffix(path, "/sse") && strings.HasPrefix(path, "/properties/"):
		s.stream(w, r, "prop:"+strings.TrimSuffix(strings.TrimPrefix(path, "/properties/"), "/sse"))
	case strings.HasPrefix(path, "/properties/"):
		name := strings.TrimPrefix(path, "/properties/")
		s.mu.Lock()
		v, ok := s.props[name]
		s.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, v)
		case r.Method == http.MethodPut && name != "temperature":
			var nv any
			if err := json.NewDecoder(r.Body).Decode(&nv); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.set(name, nv)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	case path == "/actions/add" && r.Method == http.MethodPut:
		var xs []float64
		if err := json.NewDecoder(r.Body).Decode(&xs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var sum float64
		for _, x := range xs {
			sum += x
		}
		writeJSON(w, http.StatusOK, sum)
	case path == "/actions/fade" && r.Method == http.MethodPost:
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		d, _ := in["duration"].(float64)
		s.mu.Lock()
		s.seq++
		href := fmt.Sprintf("/actions/fade/%d", s.seq)
		st := map[string]any{"status": "running", "href": href}
		s.statuses[href] = st
		first := mustJSON(st)
		s.mu.Unlock()
		go func() {
			if !after(time.Duration(d)*time.Millisecond, s.quit) {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if st["status"] != "running" {
				return
			}
			if in["fail"] == true {
				st["status"], st["error"] = "failed", map[string]any{"title": "bulb broken"}
			} else {
				st["status"], st["output"] = "completed", map[string]any{"brightness": in["brightness"]}
			}
		}()
		w.Header().Set("Location", href)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(first)
	case strings.HasPrefix(path, "/actions/fade/"):
		s.mu.Lock()
		st, ok := s.statuses[path]
		var body []byte
		if ok {
			if r.Method == http.MethodDelete {
				st["status"] = "cancelled"
				s.deleted = append(s.deleted, path)
			}
			body = mustJSON(st)
		}
		s.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *tdServer) set(name string, v any) {
	s.mu.Lock()
	s.props[name] = v
	s.mu.Unlock()
	data := string(mustJSON(v))
	s.publish("prop:"+name, sseOut{data: data})
	s.publish("all-props", sseOut{event: name, data: data})
}

func (s *tdServer) emit(name string, v any) {
	data := string(mustJSON(v))
	s.publish("event:"+name, sseOut{data: data})
	s.publish("all-events", sseOut{event: name, data: data})
}

func (s *tdServer) publish(topic string, out sseOut) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch, t := range s.streams {
		if t == topic {
			select {
			case ch <- out:
			default:
			}
		}
	}
}

// closeStreams ends every open event stream.
func (s *tdServer) closeStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.streams {
		close(ch)
		delete(s.streams, ch)
	}
}

func (s *tdServer) openStreams() (open, opened int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams), s.opened
}

func (s *tdServer) stream(w http.ResponseWriter, r *http.Request, topic string) {
	if r.Header.Get("Accept") != "text/event-stream" {
		http.Error(w, "want an event stream", http.StatusNotAcceptable)
		return
	}
	ch := make(chan sseOut, 16)
	s.mu.Lock()
	s.streams[ch] = topic
	s.opened++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.streams[ch]; ok {
			delete(s.streams, ch)
		}
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": hello\n\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case out, ok := <-ch:
			if !ok {
				return
			}
			if out.event != "" {
				fmt.Fprintf(w, "event: %s\n", out.event)
			}
			fmt.Fprintf(w, "data: %s\n\n", out.data)
			w.(http.Flusher).Flush()
		}
	}
}
