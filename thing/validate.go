package thing

import (
	"cmp"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options adjusts parsing and validation. The zero value is the strict
// TD 1.1 behaviour of Parse and Validate. Options is a value; its methods
// are safe for concurrent use.
type Options struct {
	// Lenient accepts a form "response" without "contentType". TD 1.1
	// requires it, but deployed TDs (among them the WoT Discovery
	// Directory's own) omit it.
	Lenient bool
}

// Parse parses data as a TD 1.1 Thing Description and validates it. It
// returns an error for any invalid document: a *SyntaxError when data is
// not JSON, otherwise an errors.Join of *ValidationError, one for each
// problem. A UTF-8 byte order mark is tolerated.
func Parse(data []byte) (*Description, error) { return Options{}.Parse(data) }

// Parse is Parse with options.
func (o Options) Parse(data []byte) (*Description, error) {
	t := new(Description)
	d := newDecoder(data)
	d.strict = true
	if err := d.run(func() { d.description(t) }); err != nil {
		return nil, err
	}
	if err := o.check(t, d.errs); err != nil {
		return nil, err
	}
	return t, nil
}

// check validates t, adding to the errors decoding found. Valid documents
// are the common case, so a first pass only looks for a violation,
// without tracking where it is; only if it finds one does a second pass
// collect the errors with their paths.
func (o Options) check(t *Description, errs []error) error {
	if len(errs) == 0 {
		q := validator{opts: o, quick: true}
		q.description(t)
		if !q.failed {
			return nil
		}
	}
	v := validator{opts: o, errs: errs}
	v.description(t)
	return v.err()
}

// Validate reports every violation of the TD 1.1 rules in t as an
// errors.Join of *ValidationError (nil if t is valid). It covers the
// official TD 1.1 JSON Schema and the rules the schema cannot express
// (security names that exist, op values per affordance kind, at most one
// "type" link, URI-placed keys present in the href template, well-formed
// language tags).
//
// The model cannot tell some absent members from empty ones: Validate
// accepts an empty href or version instance, which Parse reports as
// missing when they are absent from the document.
func (t *Description) Validate() error { return Options{}.Validate(t) }

// Validate is Description.Validate with options.
func (o Options) Validate(t *Description) error { return o.check(t, nil) }

// Warnings returns what a processor should point out about t even when it
// is valid, for example an enum next to a const, an array schema without
// items, or a readOnly property with a writeproperty form.
func (t *Description) Warnings() []Warning {
	v := validator{warn: true}
	v.description(t)
	slices.SortStableFunc(v.warns, func(a, b Warning) int { return cmp.Compare(a.Path, b.Path) })
	return v.warns
}

// vseg is one step of the validator's JSON pointer.
type vseg struct {
	key   string
	index int // when key == "" && isIndex
	isIdx bool
}

type validator struct {
	opts  Options
	model bool // validating a Thing Model
	warn  bool // collect warnings
	td    *Description
	path  []vseg
	errs  []error
	warns []Warning

	uriChecked uint8 // 0: not yet; 1: no scheme puts a key in the URI; 2: some do

	// quick: only find out whether there is a violation (failed), without
	// keeping the path, so that a valid document costs no path upkeep.
	quick  bool
	failed bool
	depth  int // len(path), also kept when quick
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(v.errs, func(a, b error) int {
		var pa, pb string
		if e, ok := a.(*ValidationError); ok {
			pa = e.Path
		}
		if e, ok := b.(*ValidationError); ok {
			pb = e.Path
		}
		return cmp.Compare(pa, pb)
	})
	return errors.Join(v.errs...)
}

func (v *validator) push(k string) {
	v.depth++
	if !v.quick {
		v.path = append(v.path, vseg{key: k})
	}
}

func (v *validator) pushIdx(i int) {
	v.depth++
	if !v.quick {
		v.path = append(v.path, vseg{index: i, isIdx: true})
	}
}

func (v *validator) pop() {
	v.depth--
	if !v.quick {
		v.path = v.path[:len(v.path)-1]
	}
}

func (v *validator) pointer(extra ...string) string {
	var b []byte
	for _, s := range v.path {
		b = append(b, '/')
		if s.isIdx {
			b = strconv.AppendInt(b, int64(s.index), 10)
		} else {
			b = appendPointerToken(b, []byte(s.key))
		}
	}
	for _, s := range extra {
		b = append(b, '/')
		b = appendPointerToken(b, []byte(s))
	}
	return string(b)
}

// fail records an error at the current path plus extra segments.
func (v *validator) fail(msg string, extra ...string) {
	if v.warn {
		return
	}
	if v.quick {
		v.failed = true
		return
	}
	v.errs = append(v.errs, &ValidationError{Path: v.pointer(extra...), Msg: msg})
}

// failStrict records the violation of a rule the official TD 1.1 JSON
// Schema does not check.
func (v *validator) failStrict(msg string, extra ...string) {
	if v.warn {
		return
	}
	if v.quick {
		v.failed = true
		return
	}
	v.errs = append(v.errs, &ValidationError{Path: v.pointer(extra...), Msg: msg, strict: true})
}

// required reports a missing member, unless decoding already reported
// that member (a value of the wrong type leaves the field empty too).
func (v *validator) required(strict bool, name string) {
	if v.warn {
		return
	}
	if v.quick {
		v.failed = true
		return
	}
	p := v.pointer(name)
	for _, e := range v.errs {
		if ve, ok := e.(*ValidationError); ok && ve.Path == p {
			return
		}
	}
	v.errs = append(v.errs, &ValidationError{Path: p, Msg: "is required", strict: strict})
}

func (v *validator) warnf(msg string, extra ...string) {
	if v.warn {
		v.warns = append(v.warns, Warning{Path: v.pointer(extra...), Msg: msg})
	}
}

// ph reports whether s is a placeholder standing in for a value (Thing
// Models only).
func (v *validator) ph(s string) bool { return v.model && isPlaceholder(s) }

func (v *validator) description(t *Description) {
	v.td = t
	if v.path == nil && !v.quick {
		v.path = make([]vseg, 0, 16)
	}
	v.context(t.Context)
	v.typeDecl(t.Type, "@type", true)
	if t.ID != "" && !v.model && !isURI(t.ID) {
		v.failStrict("must be an absolute URI (RFC 3986)", "id")
	}
	if t.Title == "" && !v.model {
		v.required(true, "title")
	}
	v.langs(t.Titles, "titles")
	v.langs(t.Descriptions, "descriptions")
	if !v.model {
		v.dateTime(t.Created, t.present&presentCreated != 0, "created")
		v.dateTime(t.Modified, t.present&presentModified != 0, "modified")
	}
	for k, p := range t.Properties {
		v.push("properties")
		v.push(k)
		v.property(p)
		v.pop()
		v.pop()
	}
	for k, a := range t.Actions {
		v.push("actions")
		v.push(k)
		v.action(a)
		v.pop()
		v.pop()
	}
	for k, e := range t.Events {
		v.push("events")
		v.push(k)
		v.event(e)
		v.pop()
		v.pop()
	}
	v.links(t.Links)
	if t.Forms != nil {
		v.push("forms")
		v.forms(t.Forms, formRoot)
		v.pop()
	}
	v.security(t)
	if t.Profile.Array && len(t.Profile.Values) == 0 {
		v.fail("must not be empty", "profile")
	}
	if t.SchemaDefinitions != nil && len(t.SchemaDefinitions) == 0 {
		v.fail("must not be empty", "schemaDefinitions")
	}
	v.schemaMap(t.SchemaDefinitions, "schemaDefinitions")
	v.schemaMap(t.URIVariables, "uriVariables")
}

func (v *validator) context(c Context) {
	if len(c.Entries) == 0 {
		if c.Array {
			// The official schema accepts an empty array; a TD without
			// the TD context is not a TD.
			v.failStrict("must not be empty", "@context")
		} else {
			v.required(false, "@context")
		}
		return
	}
	v.push("@context")
	defer v.pop()
	first := c.Entries[0]
	if !c.Array {
		if first.Terms != nil || (first.URI != ContextV11 && first.URI != ContextV1) {
			v.fail("must be " + ContextV11 + " or begin with it")
		}
		return
	}
	if first.Terms != nil || (first.URI != ContextV11 && first.URI != ContextV1) {
		v.fail("must begin with "+ContextV11, "0")
	}
	for i, e := range c.Entries {
		if i > 0 && first.URI == ContextV11 && e.Terms == nil && e.URI == ContextV1 {
			v.fail("must not follow "+ContextV11, strconv.Itoa(i))
		}
		for k, raw := range e.Terms {
			if len(raw) == 0 || raw[0] != '"' {
				v.fail("must be a string", strconv.Itoa(i), k)
			}
		}
	}
}

// typeDecl checks an "@type": in a TD it must not name tm:ThingModel.
func (v *validator) typeDecl(s Strings, name string, root bool) {
	if v.model {
		return
	}
	for i, t := range s.Values {
		if t == "tm:ThingModel" {
			if v.quick {
				v.failed = true
				return
			}
			e := &ValidationError{Msg: "a Thing Description must not be a tm:ThingModel"}
			if s.Array {
				e.Path = v.pointer(name, strconv.Itoa(i))
			} else {
				e.Path = v.pointer(name)
			}
			if root {
				e.err = ErrThingModel
			}
			if !v.warn {
				v.errs = append(v.errs, e)
			}
		}
	}
}

func (v *validator) langs(m MultiLanguage, name string) {
	if len(m) == 0 {
		return // ranging over an empty map still costs an iterator
	}
	for k := range m {
		if !IsLanguageTag(k) {
			v.failStrict("is not a well-formed BCP 47 language tag", name, k)
		}
	}
}

func (v *validator) dateTime(s string, present bool, name string) {
	if s == "" && !present {
		return
	}
	if !isDateTime(s) {
		v.fail("must be an RFC 3339 date-time", name)
	}
}

// isDateTime reports whether s is an RFC 3339 date-time (JSON Schema's
// "date-time" format).
func isDateTime(s string) bool {
	if len(s) < 20 {
		return false
	}
	// time.Parse accepts a lower-case t/z in neither place; RFC 3339
	// allows them.
	b := []byte(s)
	if b[10] == 't' {
		b[10] = 'T'
	}
	if n := len(b) - 1; b[n] == 'z' {
		b[n] = 'Z'
	}
	_, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		// A leap second is valid RFC 3339; time.Parse rejects it.
		if len(b) > 19 && b[17] == '6' && b[18] == '0' {
			b[17], b[18] = '5', '9'
			_, err = time.Parse(time.RFC3339Nano, string(b))
		}
	}
	return err == nil
}

type formKind uint8

const (
	formRoot formKind = iota
	formProperty
	formAction
	formEvent
)

func legalOp(k formKind, op string) bool {
	switch k {
	case formProperty:
		switch op {
		case OpReadProperty, OpWriteProperty, OpObserveProperty, OpUnobserveProperty:
			return true
		}
	case formAction:
		switch op {
		case OpInvokeAction, OpQueryAction, OpCancelAction:
			return true
		}
	case formEvent:
		switch op {
		case OpSubscribeEvent, OpUnsubscribeEvent:
			return true
		}
	default:
		switch op {
		case OpReadAllProperties, OpWriteAllProperties, OpReadMultipleProperties,
			OpWriteMultipleProperties, OpObserveAllProperties, OpUnobserveAllProperties,
			OpQueryAllActions, OpSubscribeAllEvents, OpUnsubscribeAllEvents:
			return true
		}
	}
	return false
}

var kindName = [...]string{"a Thing-level form", "a property form", "an action form", "an event form"}

func (v *validator) property(p *Property) {
	if p == nil {
		v.fail("must be an object")
		return
	}
	v.schemaBody(&p.DataSchema)
	v.affordanceForms(p.Forms)
	v.forms(p.Forms, formProperty)
	v.schemaMap(p.URIVariables, "uriVariables")
	if v.warn {
		for i := range p.Forms {
			for _, op := range p.Forms[i].Op.Values {
				switch {
				case p.ReadOnly && (op == OpWriteProperty):
					v.warnf("readOnly property has a writeproperty form", "forms", strconv.Itoa(i), "op")
				case p.WriteOnly && (op == OpReadProperty || op == OpObserveProperty):
					v.warnf("writeOnly property has a "+op+" form", "forms", strconv.Itoa(i), "op")
				case !p.Observable && op == OpObserveProperty:
					v.warnf("property is not observable but has an observeproperty form", "forms", strconv.Itoa(i), "op")
				}
			}
		}
	}
}

func (v *validator) action(a *Action) {
	if a == nil {
		v.fail("must be an object")
		return
	}
	v.typeDecl(a.Type, "@type", false)
	v.langs(a.Titles, "titles")
	v.langs(a.Descriptions, "descriptions")
	v.affordanceForms(a.Forms)
	v.forms(a.Forms, formAction)
	v.schemaMap(a.URIVariables, "uriVariables")
	v.subschema(a.Input, "input")
	v.subschema(a.Output, "output")
}

func (v *validator) event(e *Event) {
	if e == nil {
		v.fail("must be an object")
		return
	}
	v.typeDecl(e.Type, "@type", false)
	v.langs(e.Titles, "titles")
	v.langs(e.Descriptions, "descriptions")
	v.affordanceForms(e.Forms)
	v.forms(e.Forms, formEvent)
	v.schemaMap(e.URIVariables, "uriVariables")
	v.subschema(e.Subscription, "subscription")
	v.subschema(e.Data, "data")
	v.subschema(e.DataResponse, "dataResponse")
	v.subschema(e.Cancellation, "cancellation")
}

// affordanceForms checks that an affordance has forms (not required in a
// Thing Model, but never empty when present).
func (v *validator) affordanceForms(forms []Form) {
	switch {
	case forms == nil && !v.model:
		v.required(false, "forms")
	case forms != nil && len(forms) == 0:
		v.fail("must not be empty", "forms")
	}
}

func (v *validator) forms(forms []Form, kind formKind) {
	if kind == formRoot && len(forms) == 0 {
		v.fail("must not be empty")
		return
	}
	for i := range forms {
		f := &forms[i]
		if kind != formRoot {
			v.push("forms")
		}
		v.pushIdx(i)
		v.form(f, kind)
		v.pop()
		if kind != formRoot {
			v.pop()
		}
	}
}

func (v *validator) form(f *Form, kind formKind) {
	switch {
	case len(f.Op.Values) == 0 && f.Op.Array:
		v.fail("must not be empty", "op")
	case len(f.Op.Values) == 0 && kind == formRoot && !v.model:
		v.fail("is required in a Thing-level form", "op")
	}
	for i, op := range f.Op.Values {
		if legalOp(kind, op) || v.ph(op) {
			continue
		}
		msg := strconv.Quote(op) + " is not an operation of " + kindName[kind]
		if f.Op.Array {
			v.fail(msg, "op", strconv.Itoa(i))
		} else {
			v.fail(msg, "op")
		}
	}
	v.securityNames(f.Security, "security")
	if f.Response != nil && f.Response.ContentType == "" && !v.opts.Lenient && !v.model {
		v.failStrict("is required", "response", "contentType")
	}
	for i := range f.AdditionalResponses {
		r := &f.AdditionalResponses[i]
		if r.Schema != "" && v.td != nil && !v.model {
			if _, ok := v.td.SchemaDefinitions[r.Schema]; !ok {
				v.failStrict("names no schemaDefinitions entry", "additionalResponses", strconv.Itoa(i), "schema")
			}
		}
		if r.ContentType == "" && r.Schema == "" {
			v.warnf("additional response has neither contentType nor schema", "additionalResponses", strconv.Itoa(i))
		}
	}
	if !v.model && v.td != nil && v.uriSchemes() {
		v.uriKeys(f)
	}
}

// securityNames checks a list of security scheme names: not empty when an
// array, and each defined in securityDefinitions.
func (v *validator) securityNames(s Strings, name string) {
	if s.Array && len(s.Values) == 0 {
		v.fail("must not be empty", name)
		return
	}
	if v.td == nil || v.model {
		return
	}
	for i, n := range s.Values {
		if _, ok := v.td.SecurityDefinitions[n]; ok {
			continue
		}
		msg := strconv.Quote(n) + " is not defined in securityDefinitions"
		if s.Array {
			v.failStrict(msg, name, strconv.Itoa(i))
		} else {
			v.failStrict(msg, name)
		}
	}
}

// uriSchemes reports whether any security scheme of the Thing puts an API
// key in the URI (computed once per validation).
func (v *validator) uriSchemes() bool {
	if v.uriChecked == 0 {
		v.uriChecked = 1
		for _, s := range v.td.SecurityDefinitions {
			if s != nil && s.Scheme == "apikey" && s.In == "uri" {
				v.uriChecked = 2
				break
			}
		}
	}
	return v.uriChecked == 2
}

// uriKeys checks that every API key the form's security puts in the URI
// ("in": "uri") has a variable of that name in the href template.
func (v *validator) uriKeys(f *Form) {
	names := f.Security.Values
	if len(names) == 0 {
		names = v.td.Security.Values
	}
	var seen map[string]bool
	visited := map[string]bool{} // each scheme once: combos may share members or loop
	var walk func(n string, depth int)
	walk = func(n string, depth int) {
		s := v.td.SecurityDefinitions[n]
		if s == nil || depth > 8 || visited[n] {
			return
		}
		visited[n] = true
		switch s.Scheme {
		case "apikey":
			if s.In == "uri" && s.Name != "" && !templateHasVar(f.Href, s.Name) {
				if seen == nil {
					seen = make(map[string]bool)
				}
				if !seen[s.Name] {
					seen[s.Name] = true
					v.failStrict("has no {"+s.Name+"} variable for the API key of security scheme "+strconv.Quote(n), "href")
				}
			}
		case "combo":
			for _, m := range s.AllOf {
				walk(m, depth+1)
			}
			for _, m := range s.OneOf {
				walk(m, depth+1)
			}
		}
	}
	for _, n := range names {
		walk(n, 0)
	}
}

func (v *validator) security(t *Description) {
	switch {
	case len(t.Security.Values) == 0 && t.Security.Array:
		v.fail("must not be empty", "security")
	case len(t.Security.Values) == 0 && !v.model:
		v.required(false, "security")
	default:
		v.securityNames(t.Security, "security")
	}
	switch {
	case t.SecurityDefinitions == nil && !v.model:
		v.required(false, "securityDefinitions")
	case t.SecurityDefinitions != nil && len(t.SecurityDefinitions) == 0:
		v.fail("must not be empty", "securityDefinitions")
	}
	for k, sc := range t.SecurityDefinitions {
		v.push("securityDefinitions")
		v.push(k)
		v.scheme(sc)
		v.pop()
		v.pop()
	}
}

// schemeMembers lists, per scheme, the scheme-specific members the TD 1.1
// schema defines (and so type-checks).
var schemeMembers = map[string][]string{
	"basic":  {"in", "name"},
	"digest": {"qop", "in", "name"},
	"apikey": {"in", "name"},
	"bearer": {"authorization", "alg", "format", "in", "name"},
	"psk":    {"identity"},
	"oauth2": {"authorization", "token", "refresh", "scopes", "flow"},
	"combo":  {"oneOf", "allOf"},
}

func (v *validator) scheme(s *SecurityScheme) {
	if s == nil {
		v.fail("must be an object")
		return
	}
	v.typeDecl(s.Type, "@type", false)
	v.langs(s.Descriptions, "descriptions")
	switch s.Scheme {
	case "nosec", "auto", "combo", "basic", "digest", "apikey", "bearer", "psk", "oauth2":
	case "":
		if !v.model {
			v.required(false, "scheme")
		}
		return
	default:
		if !isExtensionScheme(s.Scheme) && !v.ph(s.Scheme) {
			v.fail(strconv.Quote(s.Scheme)+" is not a TD 1.1 security scheme; an extension scheme needs a prefix (like ace:ACESecurityScheme)", "scheme")
		}
		return
	}
	for _, m := range schemeMembers[s.Scheme] {
		if _, bad := s.Extensions[m]; bad {
			want := "a string"
			switch m {
			case "scopes":
				want = "a string or an array of strings"
			case "oneOf", "allOf":
				want = "an array of security scheme names"
			}
			v.fail("must be "+want, m)
		}
	}
	in := func(allowed ...string) {
		if (s.In != "" || s.present&(1<<8) != 0) && !slices.Contains(allowed, s.In) && !v.ph(s.In) {
			v.fail(strconv.Quote(s.In)+" is not allowed for the "+s.Scheme+" scheme", "in")
		}
	}
	switch s.Scheme {
	case "auto":
		if s.Name != "" || s.present&(1<<9) != 0 {
			v.fail("must not be present in an auto scheme", "name")
		}
		if _, ok := s.Extensions["name"]; ok {
			v.fail("must not be present in an auto scheme", "name")
		}
	case "basic", "bearer":
		in("header", "query", "body", "cookie", "auto")
	case "digest":
		in("header", "query", "body", "cookie", "auto")
		if (s.Qop != "" || s.present&(1<<10) != 0) && s.Qop != "auth" && s.Qop != "auth-int" && !v.ph(s.Qop) {
			v.fail(strconv.Quote(s.Qop)+" is not a digest qop (auth or auth-int)", "qop")
		}
	case "apikey":
		in("header", "query", "body", "cookie", "uri", "auto")
	case "combo":
		_, badOne := s.Extensions["oneOf"]
		_, badAll := s.Extensions["allOf"]
		hasOne := s.OneOf != nil || badOne
		hasAll := s.AllOf != nil || badAll
		switch {
		case hasOne && hasAll:
			v.fail("a combo scheme has either oneOf or allOf, not both")
		case !hasOne && !hasAll:
			v.fail("a combo scheme needs oneOf or allOf")
		}
		for _, m := range [...]struct {
			name  string
			names []string
		}{{"oneOf", s.OneOf}, {"allOf", s.AllOf}} {
			if m.names == nil {
				continue
			}
			if len(m.names) < 2 {
				v.fail("must name at least two schemes", m.name)
			}
			if v.td == nil || v.model {
				continue
			}
			for i, n := range m.names {
				if _, ok := v.td.SecurityDefinitions[n]; !ok {
					v.failStrict(strconv.Quote(n)+" is not defined in securityDefinitions", m.name, strconv.Itoa(i))
				}
			}
		}
	}
}

// isExtensionScheme reports whether a scheme name is prefixed, as the TD
// 1.1 schema's pattern ".+:.*" demands: a colon after at least one
// character that is not a line terminator.
func isExtensionScheme(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == ':' && s[i-1] != '\n' && s[i-1] != '\r' {
			return true
		}
	}
	return false
}

func (v *validator) links(links []Link) {
	typeLinks := 0
	for i := range links {
		l := &links[i]
		v.push("links")
		v.pushIdx(i)
		_, badSizes := l.Extensions["sizes"]
		hasSizes := l.Sizes != "" || l.hasSizes || badSizes
		switch {
		case l.Rel == "icon":
			if badSizes {
				v.fail("must be a string", "sizes")
			} else if hasSizes && !isSizes(l.Sizes) {
				v.fail("must be a list of sizes like 16x16", "sizes")
			}
		case v.model && isPlaceholder(l.Rel):
			v.fail("must not be a placeholder", "rel")
		default:
			if hasSizes {
				v.fail("only icon links may have sizes", "sizes")
			}
			if l.Rel == "tm:extends" && !v.model {
				v.fail("tm:extends links belong in Thing Models", "rel")
			}
		}
		if l.Rel == "type" {
			typeLinks++
			if typeLinks == 2 {
				v.failStrict("a Thing Description has at most one link with rel \"type\"", "rel")
			}
		}
		for j, tag := range l.Hreflang.Values {
			if !IsLanguageTag(tag) {
				if l.Hreflang.Array {
					v.fail("is not a well-formed BCP 47 language tag", "hreflang", strconv.Itoa(j))
				} else {
					v.fail("is not a well-formed BCP 47 language tag", "hreflang")
				}
			}
		}
		v.pop()
		v.pop()
	}
}

// isSizes matches the TD 1.1 schema's unanchored pattern [0-9]*x[0-9]+.
func isSizes(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == 'x' && '0' <= s[i+1] && s[i+1] <= '9' {
			return true
		}
	}
	return false
}

func (v *validator) schemaMap(m map[string]*DataSchema, name string) {
	if len(m) == 0 {
		return
	}
	v.push(name)
	for k, sc := range m {
		v.push(k)
		v.schema(sc)
		v.pop()
	}
	v.pop()
}

func (v *validator) subschema(s *DataSchema, name string) {
	if s == nil {
		return
	}
	v.push(name)
	v.schema(s)
	v.pop()
}

func (v *validator) schema(s *DataSchema) {
	if s == nil {
		v.fail("must be an object")
		return
	}
	v.schemaBody(s)
}

func (v *validator) notNegative(n *int, name string) {
	if n != nil && *n < 0 {
		v.fail("must not be negative", name)
	}
}

// isSchemaType reports whether t is one of the seven data schema types.
func isSchemaType(t string) bool {
	switch t {
	case "boolean", "integer", "number", "string", "object", "array", "null":
		return true
	}
	return false
}

func (v *validator) schemaBody(s *DataSchema) {
	if v.depth > maxDepth {
		v.failStrict("schema nesting is too deep")
		return
	}
	v.typeDecl(s.AtType, "@type", false)
	v.langs(s.Titles, "titles")
	v.langs(s.Descriptions, "descriptions")
	if (s.Type != "" || s.explicit&explicitType != 0) && !isSchemaType(s.Type) && !v.ph(s.Type) {
		v.fail(strconv.Quote(s.Type)+" is not a data schema type", "type")
	}
	if s.Enum != nil {
		if len(s.Enum) == 0 {
			v.fail("must not be empty", "enum")
		}
		v.uniqueEnum(s.Enum)
	}
	v.notNegative(s.MinLength, "minLength")
	v.notNegative(s.MaxLength, "maxLength")
	v.notNegative(s.MinItems, "minItems")
	v.notNegative(s.MaxItems, "maxItems")
	if s.MultipleOf != nil && *s.MultipleOf <= 0 {
		v.fail("must be greater than 0", "multipleOf")
	}
	for i, o := range s.OneOf {
		v.push("oneOf")
		v.pushIdx(i)
		v.schema(o)
		v.pop()
		v.pop()
	}
	if s.Items != nil {
		v.subschema(s.Items, "items")
	}
	for i, o := range s.TupleItems {
		v.push("items")
		v.pushIdx(i)
		v.schema(o)
		v.pop()
		v.pop()
	}
	v.schemaMap(s.Properties, "properties")
	if v.warn {
		v.schemaWarnings(s)
	}
}

func (v *validator) schemaWarnings(s *DataSchema) {
	if s.Enum != nil && s.HasConst {
		v.warnf("has both enum and const")
	}
	if s.Type == "array" && s.Items == nil && s.TupleItems == nil {
		v.warnf("array schema without items")
	}
	if s.Type == "object" && s.Properties == nil {
		v.warnf("object schema without properties")
	}
	if s.ReadOnly && s.WriteOnly {
		v.warnf("is both readOnly and writeOnly")
	}
	if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
		v.warnf("minimum is greater than maximum; no value is valid")
	}
	if s.MinLength != nil && s.MaxLength != nil && *s.MinLength > *s.MaxLength {
		v.warnf("minLength is greater than maxLength; no value is valid")
	}
	if s.Pattern != "" {
		if _, err := translatePattern(s.Pattern); err != nil {
			v.warnf("pattern cannot be checked: "+err.Error(), "pattern")
		}
	}
	for _, r := range s.Required {
		if s.Properties != nil && s.Properties[r] == nil {
			v.warnf("required member "+strconv.Quote(r)+" is not among the properties", "required")
		}
	}
}

// uniqueEnum reports repeated enum values, comparing as JSON does, through
// a map so that a long enum cannot make validation quadratic.
func (v *validator) uniqueEnum(enum []any) {
	if len(enum) <= 8 {
		// Short enums, the usual kind: compare pairwise, no allocation.
		for i := 1; i < len(enum); i++ {
			for j := 0; j < i; j++ {
				if jsonEqual(enum[i], enum[j]) {
					v.fail("duplicates enum value "+strconv.Itoa(j), "enum", strconv.Itoa(i))
					break
				}
			}
		}
		return
	}
	type key struct {
		kind byte
		s    string
		f    float64
	}
	var seen map[key]int
	for i, e := range enum {
		var k key
		switch x := e.(type) {
		case nil:
			k = key{kind: 'z'}
		case bool:
			k = key{kind: 'b', s: strconv.FormatBool(x)}
		case string:
			k = key{kind: 's', s: x}
		default:
			if f, ok := toFloat(x); ok {
				k = key{kind: 'n', f: f}
				break
			}
			// Arrays and objects: their canonical encoding (sorted
			// member names, numbers normalised) is the key.
			e := encoder{}
			e.value(normalize(x))
			k = key{kind: 'c', s: string(e.b)}
		}
		if seen == nil {
			seen = make(map[key]int, len(enum))
		}
		if j, dup := seen[k]; dup {
			v.fail("duplicates enum value "+strconv.Itoa(j), "enum", strconv.Itoa(i))
			continue
		}
		seen[k] = i
	}
}

// jsonEqual reports whether two decoded JSON values are equal as JSON
// Schema compares them (numbers by value).
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bb, ok := b.(string)
		return ok && a == bb
	case []any:
		bb, ok := b.([]any)
		if !ok || len(a) != len(bb) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bb[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bb, ok := b.(map[string]any)
		if !ok || len(a) != len(bb) {
			return false
		}
		for k, x := range a {
			y, ok := bb[k]
			if !ok || !jsonEqual(x, y) {
				return false
			}
		}
		return true
	}
	fa, ok1 := toFloat(a)
	fb, ok2 := toFloat(b)
	return ok1 && ok2 && fa == fb
}

// languageTag is the BCP 47 well-formedness grammar (RFC 5646 section
// 2.1: langtag, privateuse, grandfathered), the same one the TD 1.1
// schema applies to hreflang. It is compiled on first use: most tags take
// IsLanguageTag's fast path, and a program that never needs the grammar
// does not carry it in its heap.
var languageTag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:` +
		// langtag: language ["-" script] ["-" region] *("-" variant) *("-" extension) ["-" privateuse]
		`(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}(?:-[A-Za-z]{3}){0,2})?|[A-Za-z]{4}|[A-Za-z]{5,8})` +
		`(?:-[A-Za-z]{4})?` +
		`(?:-(?:[A-Za-z]{2}|[0-9]{3}))?` +
		`(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*` +
		`(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*` +
		`(?:-x(?:-[A-Za-z0-9]{1,8})+)?)` +
		// privateuse
		`|x(?:-[A-Za-z0-9]{1,8})+` +
		// grandfathered (irregular, then regular)
		`|en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE` +
		`|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang` +
		`)$`)
})

// IsLanguageTag reports whether s is a well-formed BCP 47 language tag
// (RFC 5646), as keys of "titles" and "descriptions" and "hreflang"
// values must be. It checks form, not registration: "en", "de-CH" and
// "zh-Hant-TW" are well-formed, "english" and "en_US" are not.
func IsLanguageTag(s string) bool {
	// Fast path for the common shapes: "en", "de-CH".
	switch len(s) {
	case 2:
		return isAlpha(s[0]) && isAlpha(s[1])
	case 5:
		if isAlpha(s[0]) && isAlpha(s[1]) && s[2] == '-' && isAlpha(s[3]) && isAlpha(s[4]) {
			return true
		}
	}
	return languageTag().MatchString(s)
}

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// isURI reports whether s is an absolute URI (RFC 3986: a scheme, a colon,
// and characters allowed in a URI), as the JSON Schema "uri" format asks.
func isURI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 || !isAlpha(s[0]) {
		return false
	}
	for j := 1; j < i; j++ {
		c := s[j]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return validURIChars(s[i+1:])
}

// validURIChars reports whether s contains only characters allowed in a
// URI, with well-formed percent-encodings.
func validURIChars(s string) bool {
	for j := 0; j < len(s); j++ {
		c := s[j]
		switch {
		case isAlpha(c) || ('0' <= c && c <= '9'):
		case strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0:
		case c == '%':
			if j+2 >= len(s) || !isHex(s[j+1]) || !isHex(s[j+2]) {
				return false
			}
			j += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
