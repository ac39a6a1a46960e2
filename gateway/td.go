package gateway

import (
	"encoding/json"
	"net/url"
	"sync"

	"github.com/hearth-wot/hearth/thing"
)

const (
	tdContext10 = "https://www.w3.org/2019/wot/td/v1"
	tdContext11 = "https://www.w3.org/2022/wot/td/v1.1"
	// discoveryContext is the WoT Discovery context (ThingDirectory).
	discoveryContext = "https://www.w3.org/2022/wot/discovery"
	// webThingsContext is the capability schema of the WebThings ecosystem.
	webThingsContext = "https://webthings.io/schemas"
)

// tdCache keeps rendered Thing Descriptions of full (untrimmed) views,
// keyed by layout and base URI.
type tdCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *tdCache) get(key string) []byte {
	c.mu.Lock()
	b := c.m[key]
	c.mu.Unlock()
	return b
}

func (c *tdCache) put(key string, b []byte) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 16 {
		c.m = make(map[string][]byte)
	}
	c.m[key] = b
	c.mu.Unlock()
}

// security returns the security definitions that describe how the Server
// really authorizes.
func (s *Server) security() (thing.Strings, map[string]*thing.SecurityScheme) {
	switch {
	case s.insecure:
		return thing.Strings{Values: []string{"nosec_sc"}}, map[string]*thing.SecurityScheme{"nosec_sc": thing.NoSecurity()}
	case s.cfg.Security.AuthorizationURL != "":
		sc := thing.OAuth2Code(s.cfg.Security.AuthorizationURL, s.cfg.Security.TokenURL, s.cfg.Security.Scopes...)
		return thing.Strings{Values: []string{"oauth2_sc"}}, map[string]*thing.SecurityScheme{"oauth2_sc": sc}
	default:
		sc := thing.BearerToken("")
		sc.Format = s.cfg.Security.BearerFormat
		sc.Alg = s.cfg.Security.BearerAlg
		return thing.Strings{Values: []string{"bearer_sc"}}, map[string]*thing.SecurityScheme{"bearer_sc": sc}
	}
}

// tdContexts opens the @context of every TD the Server writes: the TD 1.0
// context URI followed by the TD 1.1 one. TD 1.1 allows this form for
// backward compatibility (its JSON Schema lists it beside the 1.1 URI
// alone), and consumers that only know TD 1.0's context accept it: Eclipse
// Thingweb node-wot 0.9 validates TDs with a 2021 draft schema that
// rejects a TD whose @context starts with the 1.1 URI.
func tdContexts() []thing.ContextEntry {
	return []thing.ContextEntry{{URI: tdContext10}, {URI: tdContext11}}
}

// w3cContext writes the TD contexts (tdContexts) and keeps the adapter's
// other entries (such as the WebThings capability schema or prefixes).
func w3cContext(c thing.Context) thing.Context {
	out := thing.Context{Entries: tdContexts()}
	for _, en := range c.Entries {
		if en.URI == tdContext10 || en.URI == tdContext11 {
			continue
		}
		out.Entries = append(out.Entries, en)
	}
	out.Array = true
	return out
}

func opStrings(set opSet, only opSet) thing.Strings {
	var v []string
	for _, o := range (set & only).ops() {
		v = append(v, opNames[o])
	}
	return thing.Strings{Values: v, Array: true}
}

var (
	htvGET    = map[string]json.RawMessage{"htv:methodName": json.RawMessage(`"GET"`)}
	htvDELETE = map[string]json.RawMessage{"htv:methodName": json.RawMessage(`"DELETE"`)}
)

// renderTD writes the TD 1.1 of e as v allows, for a client at o.
func (s *Server) renderTD(e *entry, v *view, o origin) ([]byte, error) {
	full := v.full(e)
	key := "w3c|" + o.base()
	if full {
		if b := e.tdc.get(key); b != nil {
			return b, nil
		}
	}
	src := e.td
	td := *src
	td.Context = w3cContext(src.Context)
	td.Base = o.base()
	td.Links = nil
	td.Security, td.SecurityDefinitions = s.security()
	tp := thingPath(e.id)

	td.Forms = nil
	if f := opStrings(v.thing, opBit(opReadAllProperties)|opBit(opReadMultipleProperties)); len(f.Values) > 0 {
		td.Forms = append(td.Forms, thing.Form{Href: tp + "/properties", ContentType: ctJSON, Op: f})
	}
	if f := opStrings(v.thing, opBit(opWriteMultipleProperties)); len(f.Values) > 0 {
		td.Forms = append(td.Forms, thing.Form{Href: tp + "/properties", ContentType: ctJSON, Op: f})
	}
	if f := opStrings(v.thing, opBit(opQueryAllActions)); len(f.Values) > 0 {
		td.Forms = append(td.Forms, thing.Form{Href: tp + "/actions", ContentType: ctJSON, Op: f})
	}
	if f := opStrings(v.thing, opBit(opSubscribeAllEvents)|opBit(opUnsubscribeAllEvents)); len(f.Values) > 0 {
		td.Forms = append(td.Forms, thing.Form{Href: tp + "/events", ContentType: ctJSON, Subprotocol: "sse", Op: f})
	}

	td.Properties = nil
	if len(v.props) > 0 {
		td.Properties = make(map[string]*thing.Property, len(v.props))
	}
	for name, set := range v.props {
		p := *src.Properties[name]
		href := tp + "/properties/" + url.PathEscape(name)
		p.Forms = nil
		if f := opStrings(set, opBit(opReadProperty)|opBit(opWriteProperty)); len(f.Values) > 0 {
			p.Forms = append(p.Forms, thing.Form{Href: href, ContentType: ctJSON, Op: f})
		}
		if f := opStrings(set, opBit(opObserveProperty)|opBit(opUnobserveProperty)); len(f.Values) > 0 {
			p.Forms = append(p.Forms, thing.Form{Href: href + "/observable", ContentType: ctJSON, Subprotocol: "sse", Op: f})
		}
		if !set.has(opObserveProperty) {
			p.Observable = false
		}
		td.Properties[name] = &p
	}

	td.Actions = nil
	if len(v.actions) > 0 {
		td.Actions = make(map[string]*thing.Action, len(v.actions))
	}
	for name, set := range v.actions {
		a := *src.Actions[name]
		href := tp + "/actions/" + url.PathEscape(name)
		a.Forms = nil
		if set.has(opInvokeAction) {
			a.Forms = append(a.Forms, thing.Form{Href: href, ContentType: ctJSON, Op: opStrings(set, opBit(opInvokeAction))})
		}
		if set.has(opQueryAction) || set.has(opCancelAction) {
			uv := make(map[string]*thing.DataSchema, len(a.URIVariables)+1)
			for k, x := range a.URIVariables {
				uv[k] = x
			}
			uv["actionID"] = &thing.DataSchema{Type: "string", Description: "the id of an action request, from the Location of its invokeaction response"}
			a.URIVariables = uv
		}
		if set.has(opQueryAction) {
			a.Forms = append(a.Forms, thing.Form{Href: href + "/{actionID}", ContentType: ctJSON, Op: opStrings(set, opBit(opQueryAction)), Extensions: htvGET})
		}
		if set.has(opCancelAction) {
			a.Forms = append(a.Forms, thing.Form{Href: href + "/{actionID}", ContentType: ctJSON, Op: opStrings(set, opBit(opCancelAction)), Extensions: htvDELETE})
		}
		td.Actions[name] = &a
	}

	td.Events = nil
	if len(v.events) > 0 {
		td.Events = make(map[string]*thing.Event, len(v.events))
	}
	for name, set := range v.events {
		ev := *src.Events[name]
		ev.Forms = []thing.Form{{Href: tp + "/events/" + url.PathEscape(name), ContentType: ctJSON, Subprotocol: "sse", Op: opStrings(set, eventOps)}}
		td.Events[name] = &ev
	}

	b, err := json.Marshal(&td)
	if err != nil {
		return nil, err
	}
	if full {
		e.tdc.put(key, b)
	}
	return b, nil
}

// directoryTD is the Server's own Thing Description: a WoT Discovery
// directory offering the Things API's listing and retrieval.
func (s *Server) directoryTD(o origin) ([]byte, error) {
	sec, defs := s.security()
	yes := true
	td := thing.Description{
		Context: thing.Context{Entries: append(tdContexts(), thing.ContextEntry{URI: discoveryContext}), Array: true},
		Type:    thing.Strings{Values: []string{"ThingDirectory"}},
		ID:      s.cfg.Directory.ID,
		Title:   s.cfg.Directory.Title,
		Base:    o.base(),
		Properties: map[string]*thing.Property{
			"things": {
				DataSchema: thing.DataSchema{
					Description: "The Thing Descriptions of the things the caller may use",
					Type:        "array",
					Items:       &thing.DataSchema{Type: "object"},
					ReadOnly:    true,
				},
				URIVariables: map[string]*thing.DataSchema{
					"offset": {Type: "integer", Minimum: ptr(0.0)},
					"limit":  {Type: "integer", Minimum: ptr(1.0)},
				},
				Forms: []thing.Form{{
					Href:        "things{?offset,limit}",
					ContentType: ctLDJSON,
					Op:          thing.Strings{Values: []string{thing.OpReadProperty}, Array: true},
					Extensions:  htvGET,
				}},
			},
		},
		Actions: map[string]*thing.Action{
			"retrieveThing": {
				Description:  "Retrieve the Thing Description of one thing",
				URIVariables: map[string]*thing.DataSchema{"id": {Type: "string", Format: "iri-reference"}},
				Output:       &thing.DataSchema{Type: "object"},
				Safe:         true,
				Idempotent:   true,
				Synchronous:  &yes,
				Forms: []thing.Form{{
					Href:        "things/{id}",
					ContentType: ctTD,
					Op:          thing.Strings{Values: []string{thing.OpInvokeAction}, Array: true},
					Extensions:  htvGET,
				}},
			},
		},
		Security:            sec,
		SecurityDefinitions: defs,
	}
	return json.Marshal(&td)
}

func ptr[T any](v T) *T { return &v }

// legacyLink is a link of the WebThings Web Thing API.
type legacyLink struct {
	Rel       string `json:"rel"`
	Href      string `json:"href"`
	MediaType string `json:"mediaType,omitempty"`
}

// legacyTD is a Thing Description as the WebThings Web Thing API writes it.
type legacyTD struct {
	Context             string                           `json:"@context"`
	Type                []string                         `json:"@type"`
	ID                  string                           `json:"id"`
	Title               string                           `json:"title"`
	Description         string                           `json:"description,omitempty"`
	Href                string                           `json:"href"`
	Base                string                           `json:"base"`
	Properties          map[string]json.RawMessage       `json:"properties"`
	Actions             map[string]json.RawMessage       `json:"actions"`
	Events              map[string]json.RawMessage       `json:"events"`
	Links               []legacyLink                     `json:"links"`
	SecurityDefinitions map[string]*thing.SecurityScheme `json:"securityDefinitions"`
	Security            string                           `json:"security"`
}

// legacyContext picks the context a WebThings TD names: the adapter's one
// non-TD context URI, or the WebThings schemas.
func legacyContext(c thing.Context) string {
	var uri string
	n := 0
	for _, en := range c.Entries {
		if en.URI != "" && en.URI != tdContext10 && en.URI != tdContext11 {
			uri = en.URI
			n++
		}
	}
	if n == 1 {
		return uri
	}
	return webThingsContext
}

// withLinks appends a "links" member to the JSON object b.
func withLinks(b []byte, links []legacyLink) ([]byte, error) {
	lb, err := json.Marshal(links)
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1]
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, `"links":`...)
	b = append(b, lb...)
	return append(b, '}'), nil
}

// renderLegacyTD writes the WebThings Thing Description of e as v allows,
// for a client at o.
func (s *Server) renderLegacyTD(e *entry, v *view, o origin) ([]byte, error) {
	td, err := s.legacyTD(e, v, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(td)
}

func (s *Server) legacyTD(e *entry, v *view, o origin) (*legacyTD, error) {
	src := e.td
	href := s.legacyHref(o, e)
	root := href
	if root == "" {
		root = "/"
	}
	sec, defs := s.security()
	td := &legacyTD{
		Context:             legacyContext(src.Context),
		Type:                src.Type.Values,
		ID:                  src.ID,
		Title:               src.Title,
		Description:         src.Description,
		Href:                root,
		Base:                o.scheme + "://" + o.host + root,
		Properties:          make(map[string]json.RawMessage, len(v.props)),
		Actions:             make(map[string]json.RawMessage, len(v.actions)),
		Events:              make(map[string]json.RawMessage, len(v.events)),
		SecurityDefinitions: defs,
		Security:            sec.Values[0],
	}
	if td.Type == nil {
		td.Type = []string{}
	}
	for name, set := range v.props {
		p := *src.Properties[name]
		p.Forms, p.URIVariables = nil, nil
		if !set.has(opWriteProperty) {
			p.ReadOnly = true
		}
		b, err := json.Marshal(&p)
		if err != nil {
			return nil, err
		}
		b, err = withLinks(b, []legacyLink{{Rel: "property", Href: href + "/properties/" + url.PathEscape(name)}})
		if err != nil {
			return nil, err
		}
		td.Properties[name] = b
	}
	for name := range v.actions {
		a := *src.Actions[name]
		a.Forms, a.URIVariables = nil, nil
		b, err := json.Marshal(&a)
		if err != nil {
			return nil, err
		}
		b, err = withLinks(b, []legacyLink{{Rel: "action", Href: href + "/actions/" + url.PathEscape(name)}})
		if err != nil {
			return nil, err
		}
		td.Actions[name] = b
	}
	for name := range v.events {
		b, err := legacyEvent(src.Events[name])
		if err != nil {
			return nil, err
		}
		b, err = withLinks(b, []legacyLink{{Rel: "event", Href: href + "/events/" + url.PathEscape(name)}})
		if err != nil {
			return nil, err
		}
		td.Events[name] = b
	}
	td.Links = []legacyLink{
		{Rel: "properties", Href: href + "/properties"},
		{Rel: "actions", Href: href + "/actions"},
		{Rel: "events", Href: href + "/events"},
		{Rel: "alternate", Href: wsScheme(o) + "://" + o.host + root},
	}
	return td, nil
}

func wsScheme(o origin) string {
	if o.scheme == "https" {
		return "wss"
	}
	return "ws"
}

// legacyEvent writes an event the WebThings way: its data schema's members
// at the event's own level.
func legacyEvent(ev *thing.Event) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if ev.Data != nil {
		b, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
	}
	set := func(k, v string) {
		if v != "" {
			b, _ := json.Marshal(v)
			m[k] = b
		}
	}
	set("title", ev.Title)
	set("description", ev.Description)
	if len(ev.Type.Values) > 0 {
		b, _ := json.Marshal(ev.Type)
		m["@type"] = b
	}
	return json.Marshal(m)
}
