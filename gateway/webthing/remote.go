package webthing

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/hearth-wot/hearth/thing"
)

// Style names the protocol a remote thing speaks.
type Style int

const (
	// StyleAuto detects the style from the description: a W3C Thing
	// Description is one whose "@context" names a W3C TD context;
	// anything else is taken as a WebThings description.
	StyleAuto Style = iota
	// StyleTD is a W3C Thing Description 1.1 (or 1.0) with forms, used
	// over the HTTP binding: raw JSON payloads, Server-Sent Events for
	// observation.
	StyleTD
	// StyleLegacy is the WebThings Web Thing API: "links", wrapped
	// property bodies, an action queue, and the WebSocket protocol for
	// property changes and events.
	StyleLegacy
)

// String returns the style's name.
func (s Style) String() string {
	switch s {
	case StyleAuto:
		return "auto"
	case StyleTD:
		return "td"
	case StyleLegacy:
		return "legacy"
	}
	return fmt.Sprintf("Style(%d)", int(s))
}

// remote is one thing fronted by the adapter. It is immutable once built.
type remote struct {
	id    string // local thing id
	style Style
	token Token
	// host is the host (and port) the description came from; the remote's
	// URLs must stay on it unless anyHost is set (Remote.AnyHost).
	host    string
	anyHost bool
	local   *thing.Description // what Things returns (copied on the way out)

	// StyleTD: the remote's own description (with forms) and the base its
	// hrefs resolve against.
	td   *thing.Description
	base *url.URL

	// StyleLegacy: resolved URLs.
	props   map[string]*url.URL
	actions map[string]*url.URL
	events  []string
	ws      *url.URL
}

// parseDescriptions parses what a remote served at docURL: one thing
// description or an array of them (a WebThings multiple-thing server, a
// gateway's /things, or a WoT directory listing).
func parseDescriptions(data []byte, docURL *url.URL, style Style) ([]*remote, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, protocolError("empty description")
	}
	var raws []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, protocolError("malformed description list: %v", err)
		}
	} else {
		raws = []json.RawMessage{data}
	}
	var out []*remote
	for i, raw := range raws {
		r, err := parseDescription(raw, docURL, style)
		if err != nil {
			if len(raws) > 1 {
				return nil, fmt.Errorf("description %d: %w", i, err)
			}
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseDescription parses one description.
func parseDescription(raw []byte, docURL *url.URL, style Style) (*remote, error) {
	var head struct {
		Context json.RawMessage `json:"@context"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, protocolError("malformed description: %v", err)
	}
	if style == StyleAuto {
		style = StyleLegacy
		if namesW3CContext(head.Context) {
			style = StyleTD
		}
	}
	if style == StyleTD {
		return parseTD(raw, docURL)
	}
	return parseLegacy(raw, docURL)
}

// namesW3CContext reports whether an "@context" value contains a W3C TD
// context URI.
func namesW3CContext(raw json.RawMessage) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return isW3CContext(one)
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, e := range many {
		if json.Unmarshal(e, &one) == nil && isW3CContext(one) {
			return true
		}
	}
	return false
}

func isW3CContext(s string) bool {
	return s == thing.ContextV11 || s == thing.ContextV1 || strings.HasPrefix(s, "https://www.w3.org/2022/wot/td") ||
		strings.HasPrefix(s, "https://www.w3.org/2019/wot/td") || strings.HasPrefix(s, "http://www.w3.org/ns/td")
}

// parseTD parses a W3C Thing Description. Remote descriptions are decoded
// without strict validation (devices in the field are often slightly
// off); what the adapter relies on is checked when it is used.
func parseTD(raw []byte, docURL *url.URL) (*remote, error) {
	td := new(thing.Description)
	if err := json.Unmarshal(raw, td); err != nil {
		return nil, protocolError("malformed Thing Description: %v", err)
	}
	if td.Title == "" {
		return nil, protocolError("Thing Description has no title")
	}
	base := docURL
	if td.Base != "" {
		b, err := docURL.Parse(td.Base)
		if err != nil {
			return nil, protocolError("bad base %q: %v", td.Base, err)
		}
		base = b
	}
	r := &remote{id: td.ID, style: StyleTD, td: td, base: base}
	local, err := localCopy(td)
	if err != nil {
		return nil, err
	}
	r.local = local
	return r, nil
}

// localCopy returns td without what a gateway replaces: forms, base,
// links and security.
func localCopy(td *thing.Description) (*thing.Description, error) {
	c, err := copyTD(td)
	if err != nil {
		return nil, err
	}
	c.Base = ""
	c.Forms = nil
	c.Links = nil
	c.Security = thing.Strings{}
	c.SecurityDefinitions = nil
	for _, p := range c.Properties {
		p.Forms = nil
		delete(p.Extensions, "links")
	}
	for _, a := range c.Actions {
		a.Forms = nil
		delete(a.Extensions, "links")
	}
	for _, e := range c.Events {
		e.Forms = nil
		delete(e.Extensions, "links")
	}
	return c, nil
}

// copyTD deep-copies a description through its JSON form.
func copyTD(td *thing.Description) (*thing.Description, error) {
	b, err := json.Marshal(td)
	if err != nil {
		return nil, protocolError("description does not re-encode: %v", err)
	}
	c := new(thing.Description)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, protocolError("description does not decode again: %v", err)
	}
	return c, nil
}

// cloneTD copies a local description that has been copied successfully
// before (every local description has).
func cloneTD(td *thing.Description) *thing.Description {
	c, err := copyTD(td)
	if err != nil {
		panic("webthing: " + err.Error())
	}
	return c
}

// legacyLink is a link in a WebThings description.
type legacyLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// legacyHrefs holds the members of a WebThings affordance that locate it.
type legacyHrefs struct {
	Links []legacyLink `json:"links"`
	Forms []struct {
		Href string `json:"href"`
	} `json:"forms"`
}

// href returns the affordance's URL: its link with rel (or its only
// link), else its first form.
func (h legacyHrefs) href(rel string) string {
	for _, l := range h.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	if len(h.Links) == 1 && h.Links[0].Rel == "" {
		return h.Links[0].Href
	}
	if len(h.Forms) > 0 {
		return h.Forms[0].Href
	}
	return ""
}

// parseLegacy parses a WebThings (Web Thing API) description.
func parseLegacy(raw []byte, docURL *url.URL) (*remote, error) {
	var lt struct {
		ID          string                     `json:"id"`
		Title       string                     `json:"title"`
		Name        string                     `json:"name"` // before webthing 0.12
		Type        json.RawMessage            `json:"@type"`
		Description string                     `json:"description"`
		Href        string                     `json:"href"`
		Properties  map[string]json.RawMessage `json:"properties"`
		Actions     map[string]json.RawMessage `json:"actions"`
		Events      map[string]json.RawMessage `json:"events"`
		Links       []legacyLink               `json:"links"`
	}
	if err := json.Unmarshal(raw, &lt); err != nil {
		return nil, protocolError("malformed Web Thing description: %v", err)
	}
	title := cmp.Or(lt.Title, lt.Name)
	if title == "" {
		return nil, protocolError("Web Thing description has no title")
	}
	thingURL := docURL
	if lt.Href != "" {
		u, err := docURL.Parse(lt.Href)
		if err != nil {
			return nil, protocolError("bad href %q: %v", lt.Href, err)
		}
		thingURL = u
	}
	resolve := func(kind, name, href string) (*url.URL, error) {
		if href == "" {
			// The Web Thing API's fixed layout.
			href = strings.TrimSuffix(thingURL.Path, "/") + "/" + kind + "/" + url.PathEscape(name)
		}
		u, err := thingURL.Parse(href)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, protocolError("%s %q: bad href %q", kind, name, href)
		}
		return u, nil
	}

	td := &thing.Description{
		Context: thing.Context{Entries: []thing.ContextEntry{{URI: thing.ContextV11}, {URI: "https://webthings.io/schemas"}}, Array: true},
		ID:      lt.ID,
		Title:   title,
		// The description is plain text in the Web Thing API too.
		Description: lt.Description,
	}
	if len(lt.Type) > 0 {
		if err := json.Unmarshal(lt.Type, &td.Type); err != nil {
			return nil, protocolError("bad @type: %v", err)
		}
	}
	r := &remote{id: lt.ID, style: StyleLegacy, props: map[string]*url.URL{}, actions: map[string]*url.URL{}}

	for _, name := range sortedKeys(lt.Properties) {
		rawProp := lt.Properties[name]
		p := new(thing.Property)
		var h legacyHrefs
		if err := json.Unmarshal(rawProp, p); err != nil {
			return nil, protocolError("property %q: %v", name, err)
		}
		if err := json.Unmarshal(rawProp, &h); err != nil {
			return nil, protocolError("property %q: %v", name, err)
		}
		u, err := resolve("properties", name, h.href("property"))
		if err != nil {
			return nil, err
		}
		r.props[name] = u
		p.Forms = nil
		p.Observable = true // the WebSocket reports every property
		delete(p.Extensions, "links")
		if td.Properties == nil {
			td.Properties = map[string]*thing.Property{}
		}
		td.Properties[name] = p
	}
	for _, name := range sortedKeys(lt.Actions) {
		rawAction := lt.Actions[name]
		a := new(thing.Action)
		var h legacyHrefs
		if err := json.Unmarshal(rawAction, a); err != nil {
			return nil, protocolError("action %q: %v", name, err)
		}
		if err := json.Unmarshal(rawAction, &h); err != nil {
			return nil, protocolError("action %q: %v", name, err)
		}
		u, err := resolve("actions", name, h.href("action"))
		if err != nil {
			return nil, err
		}
		r.actions[name] = u
		a.Forms = nil
		delete(a.Extensions, "links")
		if td.Actions == nil {
			td.Actions = map[string]*thing.Action{}
		}
		td.Actions[name] = a
	}
	for _, name := range sortedKeys(lt.Events) {
		// A Web Thing event describes its data with schema members at its
		// own level ("type", "unit", ...).
		e := new(thing.Event)
		if err := json.Unmarshal(lt.Events[name], e); err != nil {
			return nil, protocolError("event %q: %v", name, err)
		}
		data := new(thing.DataSchema)
		if err := json.Unmarshal(lt.Events[name], data); err != nil {
			return nil, protocolError("event %q: %v", name, err)
		}
		ev := &thing.Event{Type: e.Type, Title: e.Title, Titles: e.Titles, Description: e.Description, Descriptions: e.Descriptions, Data: e.Data}
		if ev.Data == nil && data.Type != "" {
			data.AtType, data.Title, data.Titles, data.Description, data.Descriptions = thing.Strings{}, "", nil, "", nil
			delete(data.Extensions, "links")
			delete(data.Extensions, "forms")
			ev.Data = data
		}
		if td.Events == nil {
			td.Events = map[string]*thing.Event{}
		}
		td.Events[name] = ev
		r.events = append(r.events, name)
	}

	// The WebSocket endpoint: the "alternate" link with a ws: URL, else
	// the thing's own URL.
	for _, l := range lt.Links {
		if l.Rel != "alternate" {
			continue
		}
		u, err := thingURL.Parse(l.Href)
		if err == nil && (u.Scheme == "ws" || u.Scheme == "wss") {
			r.ws = u
			break
		}
	}
	if r.ws == nil {
		u := *thingURL
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[thingURL.Scheme]
		if u.Scheme != "" {
			r.ws = &u
		}
	}
	// What came from the remote must survive the copies Things makes.
	if _, err := copyTD(td); err != nil {
		return nil, err
	}
	r.local = td
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ErrForeignHost is wrapped by errors for a URL in a remote's description
// (a form, link or action status location) or a redirect on another host
// than the description itself, unless Remote.AnyHost allows it, and for a
// redirect from https to http.
var ErrForeignHost = errors.New("webthing: URL on another host than the description")

// check refuses a URL of r on a foreign host.
func (r *remote) check(u *url.URL) error {
	if r.anyHost || strings.EqualFold(u.Host, r.host) {
		return nil
	}
	return fmt.Errorf("webthing: thing %q: %s: %w", r.id, redactURL(u), ErrForeignHost)
}

// checkAll checks the URLs resolved when a WebThings description was
// parsed.
func (r *remote) checkAll() error {
	for _, u := range r.props {
		if err := r.check(u); err != nil {
			return err
		}
	}
	for _, u := range r.actions {
		if err := r.check(u); err != nil {
			return err
		}
	}
	if r.ws != nil {
		return r.check(r.ws)
	}
	return nil
}
