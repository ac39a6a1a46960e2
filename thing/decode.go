package thing

import "encoding/json"

// Type decoders. Each reads one JSON value into a model type, recording a
// *ValidationError for a member of the wrong JSON type (the member is then
// left at its zero value) and for duplicate member names (the first one
// wins). Members outside the model go to Extensions verbatim.

// once marks member bit as seen; for a repeated member it records the
// duplicate, skips its value and returns false.
func (d *decoder) once(seen *uint64, bit uint) bool {
	if *seen&(1<<bit) == 0 {
		*seen |= 1 << bit
		return true
	}
	return d.dupMember()
}

// dupMember records a repeated member, skips its value and returns false.
func (d *decoder) dupMember() bool {
	d.failDup()
	d.skip()
	return false
}

func (d *decoder) description(t *Description) {
	if !d.openObject() {
		d.typeError("an object")
		return
	}
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "@context":
			if d.once(&seen, 0) {
				d.context(&t.Context)
			}
		case "@type":
			if d.once(&seen, 1) {
				d.strs(&t.Type)
			}
		case "id":
			if d.once(&seen, 2) {
				t.ID = d.str()
				if t.ID == "" && d.strict && !d.model {
					d.fail("must be an absolute URI (RFC 3986)")
				}
			}
		case "title":
			if d.once(&seen, 3) {
				t.Title = d.str()
			}
		case "titles":
			if d.once(&seen, 4) {
				t.Titles = d.multiLanguage()
			}
		case "description":
			if d.once(&seen, 5) {
				t.Description = d.str()
			}
		case "descriptions":
			if d.once(&seen, 6) {
				t.Descriptions = d.multiLanguage()
			}
		case "version":
			if d.once(&seen, 7) {
				t.Version = d.version()
			}
		case "created":
			if d.once(&seen, 8) {
				t.Created = d.str()
				t.present |= presentCreated
			}
		case "modified":
			if d.once(&seen, 9) {
				t.Modified = d.str()
				t.present |= presentModified
			}
		case "support":
			if d.once(&seen, 10) {
				t.Support = d.str()
			}
		case "base":
			if d.once(&seen, 11) {
				t.Base = d.str()
			}
		case "properties":
			if d.once(&seen, 12) {
				t.Properties = d.properties()
			}
		case "actions":
			if d.once(&seen, 13) {
				t.Actions = d.actions()
			}
		case "events":
			if d.once(&seen, 14) {
				t.Events = d.events()
			}
		case "links":
			if d.once(&seen, 15) {
				t.Links = d.links()
			}
		case "forms":
			if d.once(&seen, 16) {
				t.Forms = d.forms()
			}
		case "security":
			if d.once(&seen, 17) {
				d.strs(&t.Security)
			}
		case "securityDefinitions":
			if d.once(&seen, 18) {
				t.SecurityDefinitions = d.securityDefinitions()
			}
		case "profile":
			if d.once(&seen, 19) {
				d.strs(&t.Profile)
			}
		case "schemaDefinitions":
			if d.once(&seen, 20) {
				t.SchemaDefinitions = d.schemaMap()
			}
		case "uriVariables":
			if d.once(&seen, 21) {
				t.URIVariables = d.schemaMap()
			}
		default:
			d.extension(&t.Extensions, k)
		}
		d.pop()
	}
}

func (d *decoder) context(c *Context) {
	switch d.peek() {
	case '"':
		b, _ := d.rawString()
		c.Entries = []ContextEntry{{URI: d.lastStr(b)}}
		c.Array = false
	case '[':
		d.pos++
		d.enter()
		c.Array = true
		c.Entries = make([]ContextEntry, 0, 2)
		i := 0
		for first := true; d.next(&first, ']'); i++ {
			d.pushIndex(i)
			switch d.peek() {
			case '"':
				b, _ := d.rawString()
				c.Entries = append(c.Entries, ContextEntry{URI: d.lastStr(b)})
			case '{':
				d.pos++
				d.enter()
				terms := make(map[string]json.RawMessage, 4)
				for first := true; d.next(&first, '}'); {
					k := d.key()
					d.pushKey()
					if _, dup := terms[string(k)]; dup {
						d.failDup()
						d.skip()
					} else {
						name := d.keepKey(k)
						terms[name] = d.raw()
					}
					d.pop()
				}
				c.Entries = append(c.Entries, ContextEntry{Terms: terms})
			default:
				d.typeError("a URI or an object")
			}
			d.pop()
		}
	default:
		d.typeError("a URI or an array")
	}
}

func (d *decoder) version() *VersionInfo {
	if d.placeholder() {
		return nil
	}
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	v := new(VersionInfo)
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "instance":
			if d.once(&seen, 0) {
				v.Instance = d.str()
			}
		case "model":
			if d.once(&seen, 1) {
				if d.peek() != '"' {
					d.typeErrorStrict("a string")
				} else {
					v.Model = d.str()
				}
			}
		default:
			d.extension(&v.Extensions, k)
		}
		d.pop()
	}
	switch {
	case d.model && seen&1 != 0:
		d.failMember("instance", "a Thing Model must not have a version instance")
	case d.strict && !d.model && seen&1 == 0:
		d.failMember("instance", "is required")
	}
	return v
}

// affordanceName checks a member name of properties, actions or events.
func (d *decoder) affordanceName(k []byte) {
	if d.model && isPlaceholder(string(k)) {
		d.fail("a member name must not be a placeholder")
	}
}

func (d *decoder) properties() map[string]*Property {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	// Size the map from the input (about one property per 350 bytes in
	// typical TDs), so that it rarely has to grow.
	m := make(map[string]*Property, min(len(d.data)/350, 512))
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		d.affordanceName(k)
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if p := d.property(); p != nil {
				m[name] = p
			}
		}
		d.pop()
	}
	return m
}

func (d *decoder) actions() map[string]*Action {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	m := make(map[string]*Action, 4)
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		d.affordanceName(k)
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if a := d.action(); a != nil {
				m[name] = a
			}
		}
		d.pop()
	}
	return m
}

func (d *decoder) events() map[string]*Event {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	m := make(map[string]*Event, 4)
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		d.affordanceName(k)
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if e := d.event(); e != nil {
				m[name] = e
			}
		}
		d.pop()
	}
	return m
}

// explicitBits records which defaulted booleans a document wrote out, so
// that an explicit false survives a round trip.
type explicitBits uint8

const (
	explicitReadOnly explicitBits = 1 << iota
	explicitWriteOnly
	explicitSafe
	explicitIdempotent
	explicitType // "type" was present (it may be "")
)

// presentBits records Thing-level strings that were present, so an empty
// one is told from an absent one.
type presentBits uint8

const (
	presentCreated presentBits = 1 << iota
	presentModified
)

// Member bits 0..31 are DataSchema's; affordances use 32 and up.
const (
	bitForms = 32 + iota
	bitURIVariables
	bitObservable
)

func (d *decoder) property() *Property {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	p := d.propSlab.new()
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "forms":
			if d.once(&seen, bitForms) {
				p.Forms = d.forms()
			}
		case "uriVariables":
			if d.once(&seen, bitURIVariables) {
				p.URIVariables = d.schemaMap()
			}
		case "observable":
			if d.once(&seen, bitObservable) {
				p.Observable = d.boolean()
				p.explicitObservable = true
			}
		default:
			if !d.schemaMember(&p.DataSchema, k, &seen, true) {
				d.extension(&p.Extensions, k)
			}
		}
		d.pop()
	}
	return p
}

func (d *decoder) action() *Action {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	a := new(Action)
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "@type":
			if d.once(&seen, 0) {
				d.strs(&a.Type)
			}
		case "title":
			if d.once(&seen, 1) {
				a.Title = d.str()
			}
		case "titles":
			if d.once(&seen, 2) {
				a.Titles = d.multiLanguage()
			}
		case "description":
			if d.once(&seen, 3) {
				a.Description = d.str()
			}
		case "descriptions":
			if d.once(&seen, 4) {
				a.Descriptions = d.multiLanguage()
			}
		case "forms":
			if d.once(&seen, 5) {
				a.Forms = d.forms()
			}
		case "uriVariables":
			if d.once(&seen, 6) {
				a.URIVariables = d.schemaMap()
			}
		case "input":
			if d.once(&seen, 7) {
				a.Input = d.schema()
			}
		case "output":
			if d.once(&seen, 8) {
				a.Output = d.schema()
			}
		case "safe":
			if d.once(&seen, 9) {
				a.Safe = d.boolean()
				a.explicit |= explicitSafe
			}
		case "idempotent":
			if d.once(&seen, 10) {
				a.Idempotent = d.boolean()
				a.explicit |= explicitIdempotent
			}
		case "synchronous":
			if d.once(&seen, 11) {
				a.Synchronous = d.optBool()
			}
		default:
			d.extension(&a.Extensions, k)
		}
		d.pop()
	}
	return a
}

func (d *decoder) event() *Event {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	e := new(Event)
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "@type":
			if d.once(&seen, 0) {
				d.strs(&e.Type)
			}
		case "title":
			if d.once(&seen, 1) {
				e.Title = d.str()
			}
		case "titles":
			if d.once(&seen, 2) {
				e.Titles = d.multiLanguage()
			}
		case "description":
			if d.once(&seen, 3) {
				e.Description = d.str()
			}
		case "descriptions":
			if d.once(&seen, 4) {
				e.Descriptions = d.multiLanguage()
			}
		case "forms":
			if d.once(&seen, 5) {
				e.Forms = d.forms()
			}
		case "uriVariables":
			if d.once(&seen, 6) {
				e.URIVariables = d.schemaMap()
			}
		case "subscription":
			if d.once(&seen, 7) {
				e.Subscription = d.schema()
			}
		case "data":
			if d.once(&seen, 8) {
				e.Data = d.schema()
			}
		case "dataResponse":
			if d.once(&seen, 9) {
				e.DataResponse = d.schema()
			}
		case "cancellation":
			if d.once(&seen, 10) {
				e.Cancellation = d.schema()
			}
		default:
			d.extension(&e.Extensions, k)
		}
		d.pop()
	}
	return e
}

// schema reads a DataSchema object.
func (d *decoder) schema() *DataSchema {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	s := d.schemaSlab.new()
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		if !d.schemaMember(s, k, &seen, false) {
			d.extension(&s.Extensions, k)
		}
		d.pop()
	}
	return s
}

// schemaMember decodes member k of a DataSchema, if it is one; it returns
// false for a name that is not a DataSchema term.
//
// The official schema leaves a few members untyped in some positions
// (contentEncoding and contentMediaType of a property, properties of any
// data schema); a wrong type there is still an error, marked as a rule
// beyond the schema.
func (d *decoder) schemaMember(s *DataSchema, k []byte, seen *uint64, property bool) bool {
	switch string(k) {
	case "@type":
		if d.once(seen, 0) {
			d.strs(&s.AtType)
		}
	case "title":
		if d.once(seen, 1) {
			s.Title = d.str()
		}
	case "titles":
		if d.once(seen, 2) {
			s.Titles = d.multiLanguage()
		}
	case "description":
		if d.once(seen, 3) {
			s.Description = d.str()
		}
	case "descriptions":
		if d.once(seen, 4) {
			s.Descriptions = d.multiLanguage()
		}
	case "type":
		if d.once(seen, 5) {
			if d.peek() == '"' {
				s.explicit |= explicitType
			}
			s.Type = d.str()
		}
	case "const":
		if d.once(seen, 6) {
			s.Const = d.value()
			s.HasConst = true
		}
	case "default":
		if d.once(seen, 7) {
			s.Default = d.value()
			s.HasDefault = true
		}
	case "enum":
		if d.once(seen, 8) {
			if d.placeholder() {
				break
			}
			if d.peek() != '[' {
				d.typeError("an array")
				break
			}
			v := d.value().([]any)
			s.Enum = v
		}
	case "oneOf":
		if d.once(seen, 9) {
			s.OneOf = d.schemaList()
		}
	case "unit":
		if d.once(seen, 10) {
			s.Unit = d.str()
		}
	case "readOnly":
		if d.once(seen, 11) {
			s.ReadOnly = d.boolean()
			s.explicit |= explicitReadOnly
		}
	case "writeOnly":
		if d.once(seen, 12) {
			s.WriteOnly = d.boolean()
			s.explicit |= explicitWriteOnly
		}
	case "format":
		if d.once(seen, 13) {
			s.Format = d.str()
		}
	case "contentEncoding":
		if d.once(seen, 14) {
			if property && d.peek() != '"' {
				d.typeErrorStrict("a string")
			} else {
				s.ContentEncoding = d.str()
			}
		}
	case "contentMediaType":
		if d.once(seen, 15) {
			if property && d.peek() != '"' {
				d.typeErrorStrict("a string")
			} else {
				s.ContentMediaType = d.str()
			}
		}
	case "minimum":
		if d.once(seen, 16) {
			s.Minimum = d.number()
		}
	case "maximum":
		if d.once(seen, 17) {
			s.Maximum = d.number()
		}
	case "exclusiveMinimum":
		if d.once(seen, 18) {
			s.ExclusiveMinimum = d.number()
		}
	case "exclusiveMaximum":
		if d.once(seen, 19) {
			s.ExclusiveMaximum = d.number()
		}
	case "multipleOf":
		if d.once(seen, 20) {
			s.MultipleOf = d.number()
		}
	case "minLength":
		if d.once(seen, 21) {
			s.MinLength = d.count()
		}
	case "maxLength":
		if d.once(seen, 22) {
			s.MaxLength = d.count()
		}
	case "pattern":
		if d.once(seen, 23) {
			// The official schema does not list "pattern" at all.
			if d.peek() != '"' {
				d.typeErrorStrict("a string")
			} else {
				s.Pattern = d.str()
			}
		}
	case "items":
		if d.once(seen, 24) {
			switch d.peek() {
			case '{':
				s.Items = d.schema()
			case '[':
				s.TupleItems = d.schemaList()
			default:
				d.typeError("an object or an array")
			}
		}
	case "minItems":
		if d.once(seen, 25) {
			s.MinItems = d.count()
		}
	case "maxItems":
		if d.once(seen, 26) {
			s.MaxItems = d.count()
		}
	case "properties":
		if d.once(seen, 27) {
			if d.peek() != '{' {
				d.typeErrorStrict("an object")
			} else {
				s.Properties = d.schemaMap()
			}
		}
	case "required":
		if d.once(seen, 28) {
			s.Required = d.stringList()
		}
	default:
		return false
	}
	return true
}

// arrayOf decodes an array whose elements elem decodes, keeping those it
// reports good (a bad one has been reported at its index already).
func arrayOf[T any](d *decoder, capacity int, elem func() (T, bool)) []T {
	if !d.openArray() {
		d.typeError("an array")
		return nil
	}
	out := make([]T, 0, capacity)
	i := 0
	for first := true; d.next(&first, ']'); i++ {
		d.pushIndex(i)
		if v, ok := elem(); ok {
			out = append(out, v)
		}
		d.pop()
	}
	return out
}

func (d *decoder) schemaList() []*DataSchema {
	return arrayOf(d, 4, func() (*DataSchema, bool) {
		s := d.schema()
		return s, s != nil
	})
}

func (d *decoder) schemaMap() map[string]*DataSchema {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	m := make(map[string]*DataSchema, 4)
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		d.affordanceName(k)
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if s := d.schema(); s != nil {
				m[name] = s
			}
		}
		d.pop()
	}
	return m
}

func (d *decoder) forms() []Form {
	if !d.openArray() {
		d.typeError("an array")
		return nil
	}
	// Forms do not nest, so the forms of one array can be decoded in
	// place, one after the other, in the slab.
	start := len(d.formSlab.buf)
	i := 0
	for first := true; d.next(&first, ']'); i++ {
		d.pushIndex(i)
		if d.peek() != '{' {
			d.typeError("an object")
		} else {
			d.form(d.formSlab.extend(&start))
		}
		d.pop()
	}
	return d.formSlab.run(start)
}

func (d *decoder) form(f *Form) {
	d.openObject()
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "href":
			if d.once(&seen, 0) {
				f.Href = d.str()
			}
		case "contentType":
			if d.once(&seen, 1) {
				f.ContentType = d.str()
			}
		case "contentCoding":
			if d.once(&seen, 2) {
				f.ContentCoding = d.str()
			}
		case "subprotocol":
			if d.once(&seen, 3) {
				f.Subprotocol = d.str()
			}
		case "security":
			if d.once(&seen, 4) {
				d.strs(&f.Security)
			}
		case "scopes":
			if d.once(&seen, 5) {
				d.strs(&f.Scopes)
			}
		case "response":
			if d.once(&seen, 6) {
				f.Response = d.response()
			}
		case "additionalResponses":
			if d.once(&seen, 7) {
				f.AdditionalResponses = d.additionalResponses()
			}
		case "op":
			if d.once(&seen, 8) {
				d.strs(&f.Op)
			}
		default:
			d.extension(&f.Extensions, k)
		}
		d.pop()
	}
	if d.strict && !d.model && seen&1 == 0 {
		d.failMember("href", "is required")
	}
}

func (d *decoder) response() *ExpectedResponse {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	r := new(ExpectedResponse)
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "contentType":
			if d.once(&seen, 0) {
				r.ContentType = d.str()
			}
		default:
			d.extension(&r.Extensions, k)
		}
		d.pop()
	}
	return r
}

func (d *decoder) additionalResponses() []AdditionalResponse {
	return arrayOf(d, 2, d.additionalResponse)
}

func (d *decoder) additionalResponse() (r AdditionalResponse, ok bool) {
	if !d.openObject() {
		d.typeError("an object")
		return r, false
	}
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "success":
			if d.once(&seen, 0) {
				r.Success = d.optBool()
			}
		case "contentType":
			if d.once(&seen, 1) {
				r.ContentType = d.str()
			}
		case "schema":
			if d.once(&seen, 2) {
				r.Schema = d.str()
			}
		default:
			d.extension(&r.Extensions, k)
		}
		d.pop()
	}
	return r, true
}

func (d *decoder) links() []Link {
	return arrayOf(d, 2, d.link)
}

func (d *decoder) link() (l Link, ok bool) {
	if !d.openObject() {
		d.typeError("an object")
		return l, false
	}
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "href":
			if d.once(&seen, 0) {
				l.Href = d.str()
			}
		case "type":
			if d.once(&seen, 1) {
				l.Type = d.str()
			}
		case "rel":
			if d.once(&seen, 2) {
				l.Rel = d.str()
			}
		case "anchor":
			if d.once(&seen, 3) {
				l.Anchor = d.str()
			}
		case "sizes":
			// Only icon links may carry sizes, and then as a string;
			// validation decides. A non-string is kept verbatim.
			if _, dup := l.Extensions["sizes"]; dup || seen&(1<<4) != 0 {
				d.failDup()
				d.skip()
				break
			}
			seen |= 1 << 4
			if d.peek() != '"' {
				d.extension(&l.Extensions, k)
			} else {
				l.Sizes = d.str()
				l.hasSizes = true
			}
		case "hreflang":
			if d.once(&seen, 5) {
				d.strs(&l.Hreflang)
			}
		default:
			d.extension(&l.Extensions, k)
		}
		d.pop()
	}
	if d.strict && !d.model && seen&1 == 0 {
		d.failMember("href", "is required")
	}
	return l, true
}

func (d *decoder) securityDefinitions() map[string]*SecurityScheme {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	m := make(map[string]*SecurityScheme, 2)
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		d.affordanceName(k)
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if s := d.securityScheme(); s != nil {
				m[name] = s
			}
		}
		d.pop()
	}
	return m
}

// securityScheme reads a scheme. Which members are defined depends on the
// scheme, which may come last; so a scheme-specific member of an
// unexpected JSON type is kept verbatim in Extensions and validation
// decides whether that is an error for this scheme.
func (d *decoder) securityScheme() *SecurityScheme {
	if !d.openObject() {
		d.typeError("an object")
		return nil
	}
	s := new(SecurityScheme)
	var seen uint64
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		switch string(k) {
		case "@type":
			if d.once(&seen, 0) {
				d.strs(&s.Type)
			}
		case "scheme":
			if d.once(&seen, 1) {
				s.Scheme = d.str()
			}
		case "description":
			if d.once(&seen, 2) {
				s.Description = d.str()
			}
		case "descriptions":
			if d.once(&seen, 3) {
				s.Descriptions = d.multiLanguage()
			}
		case "proxy":
			if d.once(&seen, 4) {
				s.Proxy = d.str()
			}
		default:
			// allStrings reads ahead, so keep the name first.
			name := d.keepKey(k)
			bit, dst := s.member(name)
			switch {
			case bit == 0:
				d.extensionNamed(&s.Extensions, name)
			case !d.once(&seen, bit):
			case dst != nil && d.peek() == '"':
				*dst = d.str()
				s.present |= 1 << bit
			case dst == nil && bit == 18 && d.allStrings():
				d.strs(&s.Scopes)
			case dst == nil && bit > 18 && d.peek() == '[' && d.allStrings():
				if bit == 19 {
					s.OneOf = d.stringList()
				} else {
					s.AllOf = d.stringList()
				}
			default:
				d.extensionNamed(&s.Extensions, name)
			}
		}
		d.pop()
	}
	return s
}

// member returns the seen-bit of a scheme-specific member and, for string
// members, where it goes; bit 0 means k is not one.
func (s *SecurityScheme) member(k string) (bit uint, dst *string) {
	switch k {
	case "in":
		return 8, &s.In
	case "name":
		return 9, &s.Name
	case "qop":
		return 10, &s.Qop
	case "authorization":
		return 11, &s.Authorization
	case "alg":
		return 12, &s.Alg
	case "format":
		return 13, &s.Format
	case "identity":
		return 14, &s.Identity
	case "token":
		return 15, &s.Token
	case "refresh":
		return 16, &s.Refresh
	case "flow":
		return 17, &s.Flow
	case "scopes":
		return 18, nil
	case "oneOf":
		return 19, nil
	case "allOf":
		return 20, nil
	}
	return 0, nil
}

// allStrings reports whether the next value is a string or an array whose
// elements are all strings, without consuming it.
func (d *decoder) allStrings() bool {
	save, depth := d.pos, d.depth
	defer func() { d.pos, d.depth = save, depth }()
	switch d.peek() {
	case '"':
		return true
	case '[':
		d.pos++
		d.enter()
		for first := true; d.next(&first, ']'); {
			if d.peek() != '"' {
				return false
			}
			d.rawString()
		}
		return true
	}
	return false
}
