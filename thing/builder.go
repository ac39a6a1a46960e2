package thing

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Builder writes a Thing Description in Go:
//
//	td, err := thing.New("urn:example:lamp", "Lamp").
//		Base("http://lamp.local/").
//		Property("on", thing.Boolean().Observable()).
//		Property("brightness", thing.Integer().Range(0, 100).Unit("percent")).
//		Action("toggle", thing.NewAction()).
//		Event("overheated", thing.NewEvent().Data(thing.Number().Unit("celsius"))).
//		Build()
//
// Affordances without explicit forms get one form each, with an href of
// "properties/NAME", "actions/NAME" or "events/NAME" (relative to Base)
// and explicit ops: readproperty (unless writeOnly), writeproperty
// (unless readOnly), observeproperty and unobserveproperty (if
// observable); invokeaction; subscribeevent and unsubscribeevent. Without
// a Security call the Thing uses a "nosec" scheme named "nosec_sc".
//
// A Builder is not safe for concurrent use. Build may be called more than
// once; each call returns a fresh Description.
type Builder struct {
	td       Description
	props    []named[*DataBuilder]
	actions  []named[*ActionBuilder]
	events   []named[*EventBuilder]
	security []string
	errs     []error
}

type named[T any] struct {
	name string
	v    T
}

// New starts a Thing Description with an id (a URI, may be "") and a
// title.
func New(id, title string) *Builder {
	return &Builder{td: Description{
		Context: Context{Entries: []ContextEntry{{URI: ContextV11}}},
		ID:      id,
		Title:   title,
	}}
}

// Describe sets the Thing's description.
func (b *Builder) Describe(text string) *Builder { b.td.Description = text; return b }

// Base sets the base URI that relative hrefs resolve against.
func (b *Builder) Base(uri string) *Builder { b.td.Base = uri; return b }

// Type adds semantic "@type" values (such as "saref:LightSwitch").
func (b *Builder) Type(types ...string) *Builder {
	b.td.Type.Values = append(b.td.Type.Values, types...)
	return b
}

// Prefix adds a context prefix definition ("saref" →
// "https://w3id.org/saref#") for extension terms.
func (b *Builder) Prefix(prefix, uri string) *Builder {
	raw, _ := json.Marshal(uri)
	c := &b.td.Context
	c.Array = true
	for i := range c.Entries {
		if c.Entries[i].Terms != nil {
			c.Entries[i].Terms[prefix] = raw
			return b
		}
	}
	c.Entries = append(c.Entries, ContextEntry{Terms: map[string]json.RawMessage{prefix: raw}})
	return b
}

// Version sets the version info (instance is required by TD 1.1).
func (b *Builder) Version(instance string) *Builder {
	b.td.Version = &VersionInfo{Instance: instance}
	return b
}

// Support sets the Thing's support contact URI.
func (b *Builder) Support(uri string) *Builder { b.td.Support = uri; return b }

// Security defines a security scheme under name and applies it to the
// whole Thing (several calls require all of them).
func (b *Builder) Security(name string, s *SecurityScheme) *Builder {
	if s == nil {
		b.errs = append(b.errs, fmt.Errorf("thing: nil security scheme %q", name))
		return b
	}
	if b.td.SecurityDefinitions == nil {
		b.td.SecurityDefinitions = make(map[string]*SecurityScheme)
	}
	b.td.SecurityDefinitions[name] = s
	if !slices.Contains(b.security, name) {
		b.security = append(b.security, name)
	}
	return b
}

// Link adds a web link.
func (b *Builder) Link(rel, href, mediaType string) *Builder {
	b.td.Links = append(b.td.Links, Link{Rel: rel, Href: href, Type: mediaType})
	return b
}

// Form adds a Thing-level form (for readallproperties and the like).
func (b *Builder) Form(f Form) *Builder {
	b.td.Forms = append(b.td.Forms, f)
	return b
}

// Property adds a property described by a schema builder.
func (b *Builder) Property(name string, p *DataBuilder) *Builder {
	if p == nil {
		p = &DataBuilder{}
	}
	b.props = append(b.props, named[*DataBuilder]{name, p})
	return b
}

// Action adds an action; a nil ActionBuilder is an action with no input
// or output.
func (b *Builder) Action(name string, a *ActionBuilder) *Builder {
	if a == nil {
		a = NewAction()
	}
	b.actions = append(b.actions, named[*ActionBuilder]{name, a})
	return b
}

// Event adds an event; a nil EventBuilder is an event without data.
func (b *Builder) Event(name string, e *EventBuilder) *Builder {
	if e == nil {
		e = NewEvent()
	}
	b.events = append(b.events, named[*EventBuilder]{name, e})
	return b
}

// Build assembles and validates the Thing Description.
func (b *Builder) Build() (*Description, error) {
	td := b.td // copy
	td.Type.Values = slices.Clone(td.Type.Values)
	td.Links = slices.Clone(td.Links)
	td.Forms = slices.Clone(td.Forms)
	errs := slices.Clone(b.errs)
	if td.SecurityDefinitions == nil {
		td.SecurityDefinitions = map[string]*SecurityScheme{"nosec_sc": NoSecurity()}
		td.Security = Strings{Values: []string{"nosec_sc"}}
	} else {
		td.SecurityDefinitions = cloneMap(td.SecurityDefinitions)
		td.Security = Strings{Values: slices.Clone(b.security), Array: len(b.security) > 1}
	}
	dup := func(kind, name string, exists bool) bool {
		if exists {
			errs = append(errs, fmt.Errorf("thing: %s %q added twice", kind, name))
		}
		return exists
	}
	if len(b.props) > 0 {
		td.Properties = make(map[string]*Property, len(b.props))
	}
	for _, p := range b.props {
		if dup("property", p.name, td.Properties[p.name] != nil) {
			continue
		}
		prop := &Property{DataSchema: *p.v.Schema(), Observable: p.v.observable}
		prop.Forms = slices.Clone(p.v.forms)
		prop.URIVariables = cloneMap(p.v.uriVars)
		if len(prop.Forms) == 0 {
			var ops []string
			if !prop.WriteOnly {
				ops = append(ops, OpReadProperty)
			}
			if !prop.ReadOnly {
				ops = append(ops, OpWriteProperty)
			}
			if prop.Observable {
				ops = append(ops, OpObserveProperty, OpUnobserveProperty)
			}
			prop.Forms = []Form{{Href: p.v.hrefOr("properties/" + p.name), Op: Strings{Values: ops, Array: true}}}
		}
		td.Properties[p.name] = prop
	}
	if len(b.actions) > 0 {
		td.Actions = make(map[string]*Action, len(b.actions))
	}
	for _, a := range b.actions {
		if dup("action", a.name, td.Actions[a.name] != nil) {
			continue
		}
		act := a.v.a // copy
		act.Forms = slices.Clone(act.Forms)
		if len(act.Forms) == 0 {
			act.Forms = []Form{{Href: hrefOr(a.v.href, "actions/"+a.name), Op: Strings{Values: []string{OpInvokeAction}}}}
		}
		td.Actions[a.name] = &act
	}
	if len(b.events) > 0 {
		td.Events = make(map[string]*Event, len(b.events))
	}
	for _, e := range b.events {
		if dup("event", e.name, td.Events[e.name] != nil) {
			continue
		}
		ev := e.v.e
		ev.Forms = slices.Clone(ev.Forms)
		if len(ev.Forms) == 0 {
			ev.Forms = []Form{{Href: hrefOr(e.v.href, "events/"+e.name), Op: Strings{Values: []string{OpSubscribeEvent, OpUnsubscribeEvent}, Array: true}}}
		}
		td.Events[e.name] = &ev
	}
	if err := td.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &td, nil
}

// MustBuild is like Build but panics on error; for descriptions written
// in the program.
func (b *Builder) MustBuild() *Description {
	td, err := b.Build()
	if err != nil {
		panic(err)
	}
	return td
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func hrefOr(href, def string) string {
	if href != "" {
		return href
	}
	return def
}

// DataBuilder builds a DataSchema, and, when used for a property, the
// property's own members (Observable, Href, Form). Start one with
// Boolean, Integer, Number, String, Object, Array, Null or Any.
//
// A DataBuilder is not safe for concurrent use.
type DataBuilder struct {
	s          DataSchema
	observable bool
	href       string
	forms      []Form
	uriVars    map[string]*DataSchema
}

func newData(typ string) *DataBuilder { return &DataBuilder{s: DataSchema{Type: typ}} }

// Boolean starts a boolean schema.
func Boolean() *DataBuilder { return newData("boolean") }

// Integer starts an integer schema.
func Integer() *DataBuilder { return newData("integer") }

// Number starts a number schema.
func Number() *DataBuilder { return newData("number") }

// String starts a string schema.
func String() *DataBuilder { return newData("string") }

// Null starts a null schema.
func Null() *DataBuilder { return newData("null") }

// Object starts an object schema; add members with Prop.
func Object() *DataBuilder { return newData("object") }

// Array starts an array schema whose items follow items (nil: any).
func Array(items *DataBuilder) *DataBuilder {
	b := newData("array")
	if items != nil {
		b.s.Items = items.Schema()
	}
	return b
}

// Any starts a schema without a type.
func Any() *DataBuilder { return &DataBuilder{} }

// OneOf starts a schema satisfied by exactly one of the alternatives.
func OneOf(alternatives ...*DataBuilder) *DataBuilder {
	b := &DataBuilder{}
	for _, a := range alternatives {
		b.s.OneOf = append(b.s.OneOf, a.Schema())
	}
	return b
}

// Schema returns a copy of the DataSchema built so far.
func (b *DataBuilder) Schema() *DataSchema {
	s := b.s
	return &s
}

// Title sets the title.
func (b *DataBuilder) Title(t string) *DataBuilder { b.s.Title = t; return b }

// Describe sets the description.
func (b *DataBuilder) Describe(text string) *DataBuilder { b.s.Description = text; return b }

// Type adds semantic "@type" values.
func (b *DataBuilder) Type(types ...string) *DataBuilder {
	b.s.AtType.Values = append(b.s.AtType.Values, types...)
	return b
}

// Unit sets the unit ("percent", "celsius", "om:kelvin", ...).
func (b *DataBuilder) Unit(u string) *DataBuilder { b.s.Unit = u; return b }

// Range sets minimum and maximum (inclusive).
func (b *DataBuilder) Range(min, max float64) *DataBuilder {
	b.s.Minimum, b.s.Maximum = &min, &max
	return b
}

// Min sets the inclusive minimum.
func (b *DataBuilder) Min(min float64) *DataBuilder { b.s.Minimum = &min; return b }

// Max sets the inclusive maximum.
func (b *DataBuilder) Max(max float64) *DataBuilder { b.s.Maximum = &max; return b }

// MultipleOf sets multipleOf (> 0).
func (b *DataBuilder) MultipleOf(m float64) *DataBuilder { b.s.MultipleOf = &m; return b }

// Length sets minLength and maxLength (in code points); a negative max
// leaves it unset.
func (b *DataBuilder) Length(min, max int) *DataBuilder {
	b.s.MinLength = &min
	if max >= 0 {
		b.s.MaxLength = &max
	}
	return b
}

// Pattern sets an ECMA-262 pattern strings must match.
func (b *DataBuilder) Pattern(p string) *DataBuilder { b.s.Pattern = p; return b }

// Format sets the format annotation ("date-time", "uri", ...).
func (b *DataBuilder) Format(f string) *DataBuilder { b.s.Format = f; return b }

// Enum restricts values to the given ones.
func (b *DataBuilder) Enum(values ...any) *DataBuilder {
	b.s.Enum = append([]any{}, values...)
	return b
}

// Const restricts the value to v.
func (b *DataBuilder) Const(v any) *DataBuilder { b.s.Const, b.s.HasConst = v, true; return b }

// Default sets the default value.
func (b *DataBuilder) Default(v any) *DataBuilder { b.s.Default, b.s.HasDefault = v, true; return b }

// Items sets minItems and maxItems of an array; a negative max leaves it
// unset.
func (b *DataBuilder) Items(min, max int) *DataBuilder {
	b.s.MinItems = &min
	if max >= 0 {
		b.s.MaxItems = &max
	}
	return b
}

// Prop adds a member to an object schema.
func (b *DataBuilder) Prop(name string, p *DataBuilder) *DataBuilder {
	if b.s.Properties == nil {
		b.s.Properties = make(map[string]*DataSchema)
	} else {
		b.s.Properties = cloneMap(b.s.Properties)
	}
	b.s.Properties[name] = p.Schema()
	return b
}

// Required lists the object members that must be present.
func (b *DataBuilder) Required(names ...string) *DataBuilder {
	b.s.Required = append(slices.Clone(b.s.Required), names...)
	return b
}

// ReadOnly marks the value read-only.
func (b *DataBuilder) ReadOnly() *DataBuilder { b.s.ReadOnly = true; return b }

// WriteOnly marks the value write-only.
func (b *DataBuilder) WriteOnly() *DataBuilder { b.s.WriteOnly = true; return b }

// Observable makes a property observable (property use only).
func (b *DataBuilder) Observable() *DataBuilder { b.observable = true; return b }

// Href sets the href of the property's generated form (property use
// only).
func (b *DataBuilder) Href(href string) *DataBuilder { b.href = href; return b }

// Form adds an explicit form to the property, replacing the generated
// one (property use only).
func (b *DataBuilder) Form(f Form) *DataBuilder { b.forms = append(b.forms, f); return b }

// URIVariable declares a variable of the property's href template
// (property use only).
func (b *DataBuilder) URIVariable(name string, s *DataBuilder) *DataBuilder {
	if b.uriVars == nil {
		b.uriVars = make(map[string]*DataSchema)
	}
	b.uriVars[name] = s.Schema()
	return b
}

func (b *DataBuilder) hrefOr(def string) string { return hrefOr(b.href, def) }

// ActionBuilder builds an action affordance. It is not safe for
// concurrent use.
type ActionBuilder struct {
	a    Action
	href string
}

// NewAction starts an action.
func NewAction() *ActionBuilder { return &ActionBuilder{} }

// Title sets the action's title.
func (b *ActionBuilder) Title(t string) *ActionBuilder { b.a.Title = t; return b }

// Describe sets the action's description.
func (b *ActionBuilder) Describe(text string) *ActionBuilder { b.a.Description = text; return b }

// Type adds semantic "@type" values.
func (b *ActionBuilder) Type(types ...string) *ActionBuilder {
	b.a.Type.Values = append(slices.Clone(b.a.Type.Values), types...)
	return b
}

// Input sets the schema of the action's input.
func (b *ActionBuilder) Input(s *DataBuilder) *ActionBuilder { b.a.Input = s.Schema(); return b }

// Output sets the schema of the action's output.
func (b *ActionBuilder) Output(s *DataBuilder) *ActionBuilder { b.a.Output = s.Schema(); return b }

// Safe marks the action as safe (no state change).
func (b *ActionBuilder) Safe() *ActionBuilder { b.a.Safe = true; return b }

// Idempotent marks the action as idempotent.
func (b *ActionBuilder) Idempotent() *ActionBuilder { b.a.Idempotent = true; return b }

// Synchronous states whether the action's result comes in the response.
func (b *ActionBuilder) Synchronous(sync bool) *ActionBuilder { b.a.Synchronous = &sync; return b }

// Href sets the href of the generated form.
func (b *ActionBuilder) Href(href string) *ActionBuilder { b.href = href; return b }

// Form adds an explicit form, replacing the generated one.
func (b *ActionBuilder) Form(f Form) *ActionBuilder { b.a.Forms = append(b.a.Forms, f); return b }

// EventBuilder builds an event affordance. It is not safe for concurrent
// use.
type EventBuilder struct {
	e    Event
	href string
}

// NewEvent starts an event.
func NewEvent() *EventBuilder { return &EventBuilder{} }

// Title sets the event's title.
func (b *EventBuilder) Title(t string) *EventBuilder { b.e.Title = t; return b }

// Describe sets the event's description.
func (b *EventBuilder) Describe(text string) *EventBuilder { b.e.Description = text; return b }

// Type adds semantic "@type" values.
func (b *EventBuilder) Type(types ...string) *EventBuilder {
	b.e.Type.Values = append(slices.Clone(b.e.Type.Values), types...)
	return b
}

// Data sets the schema of the event's notifications.
func (b *EventBuilder) Data(s *DataBuilder) *EventBuilder { b.e.Data = s.Schema(); return b }

// Href sets the href of the generated form.
func (b *EventBuilder) Href(href string) *EventBuilder { b.href = href; return b }

// Form adds an explicit form, replacing the generated one.
func (b *EventBuilder) Form(f Form) *EventBuilder { b.e.Forms = append(b.e.Forms, f); return b }

// Security scheme constructors.

// NoSecurity returns a "nosec" scheme.
func NoSecurity() *SecurityScheme { return &SecurityScheme{Scheme: "nosec"} }

// BasicAuth returns a "basic" scheme (credentials in the Authorization
// header by default).
func BasicAuth() *SecurityScheme { return &SecurityScheme{Scheme: "basic"} }

// BearerToken returns a "bearer" scheme; authorization is the URI of the
// authorization server ("" if none is advertised).
func BearerToken(authorization string) *SecurityScheme {
	return &SecurityScheme{Scheme: "bearer", Authorization: authorization}
}

// APIKey returns an "apikey" scheme that puts the key in (header, query,
// body, cookie or uri) under name.
func APIKey(in, name string) *SecurityScheme {
	return &SecurityScheme{Scheme: "apikey", In: in, Name: name}
}

// OAuth2Code returns an "oauth2" scheme using the authorization-code flow.
func OAuth2Code(authorization, token string, scopes ...string) *SecurityScheme {
	s := &SecurityScheme{Scheme: "oauth2", Flow: "code", Authorization: authorization, Token: token}
	if len(scopes) > 0 {
		s.Scopes = Strings{Values: scopes, Array: true}
	}
	return s
}
