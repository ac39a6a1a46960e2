package thing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The encoder writes the model back as JSON: known terms first, in the
// order the TD 1.1 examples use, then extension members in name order,
// each verbatim. Map members (properties, actions, ...) are written in
// name order, so the output is deterministic. Empty optional terms are
// omitted; a nil map or slice is absent, while an empty non-nil one is
// written (as {} or []), so a parsed document keeps what it said.

type encoder struct {
	b   []byte
	err error
}

// open starts an object and returns the offset that member uses to decide
// whether a comma is needed.
func (e *encoder) open() int {
	e.b = append(e.b, '{')
	return len(e.b)
}

func (e *encoder) close() { e.b = append(e.b, '}') }

// member writes the name of the next member of the object started at
// start.
func (e *encoder) member(start int, name string) {
	if len(e.b) > start {
		e.b = append(e.b, ',')
	}
	e.b = appendString(e.b, name)
	e.b = append(e.b, ':')
}

func (e *encoder) str(start int, name, v string) {
	if v != "" {
		e.member(start, name)
		e.b = appendString(e.b, v)
	}
}

// boolean writes a defaulted boolean when it is true or was written
// explicitly.
func (e *encoder) boolean(start int, name string, v, explicit bool) {
	if v || explicit {
		e.member(start, name)
		e.b = strconv.AppendBool(e.b, v)
	}
}

func (e *encoder) optBool(start int, name string, v *bool) {
	if v != nil {
		e.member(start, name)
		e.b = strconv.AppendBool(e.b, *v)
	}
}

func (e *encoder) num(start int, name string, v *float64) {
	if v != nil {
		e.member(start, name)
		e.float(*v)
	}
}

func (e *encoder) count(start int, name string, v *int) {
	if v != nil {
		e.member(start, name)
		e.b = strconv.AppendInt(e.b, int64(*v), 10)
	}
}

func (e *encoder) strs(start int, name string, s Strings) {
	if len(s.Values) == 0 && !s.Array {
		return
	}
	e.member(start, name)
	e.strings(s)
}

func (e *encoder) strings(s Strings) {
	if len(s.Values) == 1 && !s.Array {
		e.b = appendString(e.b, s.Values[0])
		return
	}
	e.stringList(s.Values)
}

func (e *encoder) stringList(v []string) {
	e.b = append(e.b, '[')
	for i, s := range v {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, s)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) langs(start int, name string, m MultiLanguage) {
	if m == nil {
		return
	}
	e.member(start, name)
	s := e.open()
	for _, k := range sortedKeys(m) {
		e.member(s, k)
		e.b = appendString(e.b, m[k])
	}
	e.close()
}

// extensions writes extension members. terms is the set of member names
// the model writes for this object (nil for "@context" terms): an
// extension by one of those names would duplicate it, so it is an error.
func (e *encoder) extensions(start int, m map[string]json.RawMessage, terms map[string]bool) {
	for _, k := range sortedKeys(m) {
		raw := m[k]
		if terms[k] {
			e.fail(fmt.Errorf("thing: extension member %q collides with a TD term", k))
			continue
		}
		if !json.Valid(raw) {
			e.fail(fmt.Errorf("thing: extension member %q is not valid JSON", k))
			continue
		}
		e.member(start, k)
		e.b = append(e.b, raw...)
	}
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *encoder) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.fail(errors.New("thing: unsupported number " + strconv.FormatFloat(f, 'g', -1, 64)))
		e.b = append(e.b, '0')
		return
	}
	e.b = appendFloat(e.b, f)
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// value writes a decoded JSON value (or any Go value encoding/json can
// marshal).
func (e *encoder) value(v any) {
	switch v := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case bool:
		e.b = strconv.AppendBool(e.b, v)
	case string:
		e.b = appendString(e.b, v)
	case float64:
		e.float(v)
	case float32:
		e.float(float64(v))
	case int:
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	case int64:
		e.b = strconv.AppendInt(e.b, v, 10)
	case int32:
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	case uint:
		e.b = strconv.AppendUint(e.b, uint64(v), 10)
	case uint64:
		e.b = strconv.AppendUint(e.b, v, 10)
	case map[string]any:
		s := e.open()
		for _, k := range sortedKeys(v) {
			e.member(s, k)
			e.value(v[k])
		}
		e.close()
	case []any:
		e.b = append(e.b, '[')
		for i, x := range v {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(x)
		}
		e.b = append(e.b, ']')
	case json.RawMessage:
		if !json.Valid(v) {
			e.fail(errors.New("thing: invalid json.RawMessage value"))
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, v...)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			e.fail(err)
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, raw...)
	}
}

func (e *encoder) description(t *Description) {
	s := e.open()
	if len(t.Context.Entries) > 0 || t.Context.Array {
		e.member(s, "@context")
		e.context(t.Context)
	}
	e.strs(s, "@type", t.Type)
	e.str(s, "id", t.ID)
	e.member(s, "title")
	e.b = appendString(e.b, t.Title)
	e.langs(s, "titles", t.Titles)
	e.str(s, "description", t.Description)
	e.langs(s, "descriptions", t.Descriptions)
	if t.Version != nil {
		e.member(s, "version")
		e.version(t.Version)
	}
	if t.Created != "" || t.present&presentCreated != 0 {
		e.member(s, "created")
		e.b = appendString(e.b, t.Created)
	}
	if t.Modified != "" || t.present&presentModified != 0 {
		e.member(s, "modified")
		e.b = appendString(e.b, t.Modified)
	}
	e.str(s, "support", t.Support)
	e.str(s, "base", t.Base)
	if t.SecurityDefinitions != nil {
		e.member(s, "securityDefinitions")
		o := e.open()
		for _, k := range sortedKeys(t.SecurityDefinitions) {
			e.member(o, k)
			e.securityScheme(t.SecurityDefinitions[k])
		}
		e.close()
	}
	e.strs(s, "security", t.Security)
	e.strs(s, "profile", t.Profile)
	e.schemaMap(s, "schemaDefinitions", t.SchemaDefinitions)
	e.schemaMap(s, "uriVariables", t.URIVariables)
	if t.Properties != nil {
		e.member(s, "properties")
		o := e.open()
		for _, k := range sortedKeys(t.Properties) {
			e.member(o, k)
			e.property(t.Properties[k])
		}
		e.close()
	}
	if t.Actions != nil {
		e.member(s, "actions")
		o := e.open()
		for _, k := range sortedKeys(t.Actions) {
			e.member(o, k)
			e.action(t.Actions[k])
		}
		e.close()
	}
	if t.Events != nil {
		e.member(s, "events")
		o := e.open()
		for _, k := range sortedKeys(t.Events) {
			e.member(o, k)
			e.event(t.Events[k])
		}
		e.close()
	}
	if t.Links != nil {
		e.member(s, "links")
		e.b = append(e.b, '[')
		for i := range t.Links {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.link(&t.Links[i])
		}
		e.b = append(e.b, ']')
	}
	e.forms(s, t.Forms)
	e.extensions(s, t.Extensions, termsThing)
	e.close()
}

func (e *encoder) context(c Context) {
	if len(c.Entries) == 1 && !c.Array && c.Entries[0].Terms == nil {
		e.b = appendString(e.b, c.Entries[0].URI)
		return
	}
	e.b = append(e.b, '[')
	for i, ce := range c.Entries {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if ce.Terms == nil {
			e.b = appendString(e.b, ce.URI)
			continue
		}
		o := e.open()
		e.extensions(o, ce.Terms, nil)
		e.close()
	}
	e.b = append(e.b, ']')
}

func (e *encoder) version(v *VersionInfo) {
	s := e.open()
	e.member(s, "instance")
	e.b = appendString(e.b, v.Instance)
	e.str(s, "model", v.Model)
	e.extensions(s, v.Extensions, termsVersion)
	e.close()
}

func (e *encoder) schemaMap(start int, name string, m map[string]*DataSchema) {
	if m == nil {
		return
	}
	e.member(start, name)
	o := e.open()
	for _, k := range sortedKeys(m) {
		e.member(o, k)
		e.schema(m[k])
	}
	e.close()
}

func (e *encoder) schema(d *DataSchema) {
	s := e.open()
	if d != nil {
		e.schemaMembers(s, d)
		e.extensions(s, d.Extensions, termsSchema)
	}
	e.close()
}

// schemaMembers writes the DataSchema terms (not the extensions).
func (e *encoder) schemaMembers(s int, d *DataSchema) {
	e.strs(s, "@type", d.AtType)
	e.str(s, "title", d.Title)
	e.langs(s, "titles", d.Titles)
	e.str(s, "description", d.Description)
	e.langs(s, "descriptions", d.Descriptions)
	if d.Type != "" || d.explicit&explicitType != 0 {
		e.member(s, "type")
		e.b = appendString(e.b, d.Type)
	}
	if d.HasConst || d.Const != nil {
		e.member(s, "const")
		e.value(d.Const)
	}
	if d.HasDefault || d.Default != nil {
		e.member(s, "default")
		e.value(d.Default)
	}
	if d.Enum != nil {
		e.member(s, "enum")
		e.value(d.Enum)
	}
	if d.OneOf != nil {
		e.member(s, "oneOf")
		e.schemaList(d.OneOf)
	}
	e.str(s, "unit", d.Unit)
	e.boolean(s, "readOnly", d.ReadOnly, d.explicit&explicitReadOnly != 0)
	e.boolean(s, "writeOnly", d.WriteOnly, d.explicit&explicitWriteOnly != 0)
	e.str(s, "format", d.Format)
	e.str(s, "contentEncoding", d.ContentEncoding)
	e.str(s, "contentMediaType", d.ContentMediaType)
	e.num(s, "minimum", d.Minimum)
	e.num(s, "exclusiveMinimum", d.ExclusiveMinimum)
	e.num(s, "maximum", d.Maximum)
	e.num(s, "exclusiveMaximum", d.ExclusiveMaximum)
	e.num(s, "multipleOf", d.MultipleOf)
	e.count(s, "minLength", d.MinLength)
	e.count(s, "maxLength", d.MaxLength)
	e.str(s, "pattern", d.Pattern)
	switch {
	case d.Items != nil:
		e.member(s, "items")
		e.schema(d.Items)
	case d.TupleItems != nil:
		e.member(s, "items")
		e.schemaList(d.TupleItems)
	}
	e.count(s, "minItems", d.MinItems)
	e.count(s, "maxItems", d.MaxItems)
	e.schemaMap(s, "properties", d.Properties)
	if d.Required != nil {
		e.member(s, "required")
		e.stringList(d.Required)
	}
}

func (e *encoder) schemaList(l []*DataSchema) {
	e.b = append(e.b, '[')
	for i, d := range l {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.schema(d)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) property(p *Property) {
	s := e.open()
	if p != nil {
		e.schemaMembers(s, &p.DataSchema)
		e.boolean(s, "observable", p.Observable, p.explicitObservable)
		e.schemaMap(s, "uriVariables", p.URIVariables)
		e.forms(s, p.Forms)
		e.extensions(s, p.Extensions, termsProperty)
	}
	e.close()
}

func (e *encoder) action(a *Action) {
	s := e.open()
	if a != nil {
		e.strs(s, "@type", a.Type)
		e.str(s, "title", a.Title)
		e.langs(s, "titles", a.Titles)
		e.str(s, "description", a.Description)
		e.langs(s, "descriptions", a.Descriptions)
		e.schemaMap(s, "uriVariables", a.URIVariables)
		if a.Input != nil {
			e.member(s, "input")
			e.schema(a.Input)
		}
		if a.Output != nil {
			e.member(s, "output")
			e.schema(a.Output)
		}
		e.boolean(s, "safe", a.Safe, a.explicit&explicitSafe != 0)
		e.boolean(s, "idempotent", a.Idempotent, a.explicit&explicitIdempotent != 0)
		e.optBool(s, "synchronous", a.Synchronous)
		e.forms(s, a.Forms)
		e.extensions(s, a.Extensions, termsAction)
	}
	e.close()
}

func (e *encoder) event(v *Event) {
	s := e.open()
	if v != nil {
		e.strs(s, "@type", v.Type)
		e.str(s, "title", v.Title)
		e.langs(s, "titles", v.Titles)
		e.str(s, "description", v.Description)
		e.langs(s, "descriptions", v.Descriptions)
		e.schemaMap(s, "uriVariables", v.URIVariables)
		for _, m := range [...]struct {
			name string
			d    *DataSchema
		}{{"subscription", v.Subscription}, {"data", v.Data}, {"dataResponse", v.DataResponse}, {"cancellation", v.Cancellation}} {
			if m.d != nil {
				e.member(s, m.name)
				e.schema(m.d)
			}
		}
		e.forms(s, v.Forms)
		e.extensions(s, v.Extensions, termsEvent)
	}
	e.close()
}

func (e *encoder) forms(start int, forms []Form) {
	if forms == nil {
		return
	}
	e.member(start, "forms")
	e.b = append(e.b, '[')
	for i := range forms {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.form(&forms[i])
	}
	e.b = append(e.b, ']')
}

func (e *encoder) form(f *Form) {
	s := e.open()
	e.member(s, "href")
	e.b = appendString(e.b, f.Href)
	e.str(s, "contentType", f.ContentType)
	e.str(s, "contentCoding", f.ContentCoding)
	e.strs(s, "op", f.Op)
	e.str(s, "subprotocol", f.Subprotocol)
	e.strs(s, "security", f.Security)
	e.strs(s, "scopes", f.Scopes)
	if f.Response != nil {
		e.member(s, "response")
		e.response(f.Response)
	}
	if f.AdditionalResponses != nil {
		e.member(s, "additionalResponses")
		e.b = append(e.b, '[')
		for i := range f.AdditionalResponses {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.additionalResponse(&f.AdditionalResponses[i])
		}
		e.b = append(e.b, ']')
	}
	e.extensions(s, f.Extensions, termsForm)
	e.close()
}

func (e *encoder) response(r *ExpectedResponse) {
	s := e.open()
	e.str(s, "contentType", r.ContentType)
	e.extensions(s, r.Extensions, termsResponse)
	e.close()
}

func (e *encoder) additionalResponse(r *AdditionalResponse) {
	s := e.open()
	e.optBool(s, "success", r.Success)
	e.str(s, "contentType", r.ContentType)
	e.str(s, "schema", r.Schema)
	e.extensions(s, r.Extensions, termsAdditionalResponse)
	e.close()
}

func (e *encoder) link(l *Link) {
	s := e.open()
	e.member(s, "href")
	e.b = appendString(e.b, l.Href)
	e.str(s, "rel", l.Rel)
	e.str(s, "type", l.Type)
	e.str(s, "anchor", l.Anchor)
	if l.Sizes != "" || l.hasSizes {
		e.member(s, "sizes")
		e.b = appendString(e.b, l.Sizes)
	}
	e.strs(s, "hreflang", l.Hreflang)
	e.extensions(s, l.Extensions, l.terms())
	e.close()
}

func (e *encoder) securityScheme(c *SecurityScheme) {
	s := e.open()
	if c != nil {
		e.strs(s, "@type", c.Type)
		e.member(s, "scheme")
		e.b = appendString(e.b, c.Scheme)
		e.str(s, "description", c.Description)
		e.langs(s, "descriptions", c.Descriptions)
		e.str(s, "proxy", c.Proxy)
		if c.In != "" || c.present&(1<<8) != 0 {
			e.member(s, "in")
			e.b = appendString(e.b, c.In)
		}
		for _, m := range [...]struct {
			name string
			bit  uint
			v    string
		}{{"name", 9, c.Name}, {"qop", 10, c.Qop}, {"authorization", 11, c.Authorization}, {"alg", 12, c.Alg},
			{"format", 13, c.Format}, {"identity", 14, c.Identity}, {"token", 15, c.Token}, {"refresh", 16, c.Refresh}} {
			if m.v != "" || c.present&(1<<m.bit) != 0 {
				e.member(s, m.name)
				e.b = appendString(e.b, m.v)
			}
		}
		e.strs(s, "scopes", c.Scopes)
		if c.Flow != "" || c.present&(1<<17) != 0 {
			e.member(s, "flow")
			e.b = appendString(e.b, c.Flow)
		}
		if c.OneOf != nil {
			e.member(s, "oneOf")
			e.stringList(c.OneOf)
		}
		if c.AllOf != nil {
			e.member(s, "allOf")
			e.stringList(c.AllOf)
		}
		e.extensions(s, c.Extensions, c.terms())
	}
	e.close()
}

// Member names the encoder writes from fields, per object type.
var (
	termsSchema = setOf("@type", "title", "titles", "description", "descriptions", "type", "const", "default",
		"enum", "oneOf", "unit", "readOnly", "writeOnly", "format", "contentEncoding", "contentMediaType", "minimum",
		"maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "items",
		"minItems", "maxItems", "properties", "required")
	termsProperty = union(termsSchema, setOf("forms", "uriVariables", "observable"))
	termsAction   = setOf("@type", "title", "titles", "description", "descriptions", "forms", "uriVariables",
		"input", "output", "safe", "idempotent", "synchronous")
	termsEvent = setOf("@type", "title", "titles", "description", "descriptions", "forms", "uriVariables",
		"subscription", "data", "dataResponse", "cancellation")
	termsThing = setOf("@context", "@type", "id", "title", "titles", "description", "descriptions", "version",
		"created", "modified", "support", "base", "properties", "actions", "events", "links", "forms", "security",
		"securityDefinitions", "profile", "schemaDefinitions", "uriVariables")
	termsVersion            = setOf("instance", "model")
	termsForm               = setOf("href", "contentType", "contentCoding", "subprotocol", "security", "scopes", "response", "additionalResponses", "op")
	termsResponse           = setOf("contentType")
	termsAdditionalResponse = setOf("success", "contentType", "schema")
	termsLink               = setOf("href", "type", "rel", "anchor", "hreflang")
	termsLinkSizes          = union(termsLink, setOf("sizes"))
	termsSchemeCommon       = setOf("@type", "scheme", "description", "descriptions", "proxy")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func union(a, b map[string]bool) map[string]bool {
	m := make(map[string]bool, len(a)+len(b))
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// terms returns the names the encoder writes for l: "sizes" counts only
// when the field holds it (a non-string sizes is kept as an extension).
func (l *Link) terms() map[string]bool {
	if l.Sizes != "" || l.hasSizes {
		return termsLinkSizes
	}
	return termsLink
}

// terms returns the names the encoder writes for s. Scheme-specific
// members of an unexpected JSON type are kept as extensions (validation
// judges them), so a name collides only when its field is written too.
func (s *SecurityScheme) terms() map[string]bool {
	m := termsSchemeCommon
	var extra []string
	for _, name := range [...]string{"in", "name", "qop", "authorization", "alg", "format", "identity", "token", "refresh", "flow"} {
		bit, dst := s.member(name)
		if *dst != "" || s.present&(1<<bit) != 0 {
			extra = append(extra, name)
		}
	}
	if len(s.Scopes.Values) > 0 || s.Scopes.Array {
		extra = append(extra, "scopes")
	}
	if s.OneOf != nil {
		extra = append(extra, "oneOf")
	}
	if s.AllOf != nil {
		extra = append(extra, "allOf")
	}
	if len(extra) == 0 {
		return m
	}
	return union(m, setOf(extra...))
}
