package thing

import (
	"encoding/json"
	"errors"
)

// JSON methods. Unmarshalling reads straight into the model: member names
// are matched case-sensitively, duplicate member names are errors, members
// outside the model are kept verbatim in Extensions, and a member of the
// wrong JSON type is an error. Unmarshalling does not validate beyond
// that; Parse does both (and reports absent required members the model
// cannot represent). Marshalling writes known terms in a fixed order,
// maps in name order, and extensions verbatim; string-or-array terms keep
// the form they were read in.

// unmarshal runs one type decoder over data.
func unmarshal(data []byte, fn func(d *decoder)) error {
	d := newDecoder(data)
	if err := d.run(func() { fn(d) }); err != nil {
		return err
	}
	return errors.Join(d.errs...)
}

func marshal(fn func(e *encoder)) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 1024)}
	fn(&e)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// MarshalJSON encodes the Thing Description. A Description that passes
// Validate encodes as a valid TD.
func (t Description) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.description(&t) })
}

// UnmarshalJSON decodes a Thing Description without validating it; use
// Parse to decode and validate.
func (t *Description) UnmarshalJSON(data []byte) error {
	*t = Description{}
	return unmarshal(data, func(d *decoder) { d.description(t) })
}

// MarshalJSON encodes the context as a string or an array.
func (c Context) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.context(c) })
}

// UnmarshalJSON decodes a "@context" value.
func (c *Context) UnmarshalJSON(data []byte) error {
	*c = Context{}
	return unmarshal(data, func(d *decoder) { d.context(c) })
}

// MarshalJSON encodes a single value as a string, otherwise an array.
func (s Strings) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.strings(s) })
}

// UnmarshalJSON decodes a string or an array of strings.
func (s *Strings) UnmarshalJSON(data []byte) error {
	*s = Strings{}
	return unmarshal(data, func(d *decoder) { d.strs(s) })
}

// UnmarshalJSON decodes an object of strings, rejecting duplicate keys.
func (m *MultiLanguage) UnmarshalJSON(data []byte) error {
	*m = nil
	return unmarshal(data, func(d *decoder) { *m = d.multiLanguage() })
}

// MarshalJSON encodes the version object.
func (v VersionInfo) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.version(&v) })
}

// UnmarshalJSON decodes a "version" object.
func (v *VersionInfo) UnmarshalJSON(data []byte) error {
	*v = VersionInfo{}
	return unmarshal(data, func(d *decoder) {
		if x := d.version(); x != nil {
			*v = *x
		}
	})
}

// MarshalJSON encodes the data schema.
func (s DataSchema) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.schema(&s) })
}

// UnmarshalJSON decodes a data schema.
func (s *DataSchema) UnmarshalJSON(data []byte) error {
	*s = DataSchema{}
	return unmarshal(data, func(d *decoder) {
		if x := d.schema(); x != nil {
			*s = *x
		}
	})
}

// MarshalJSON encodes the property affordance.
func (p Property) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.property(&p) })
}

// UnmarshalJSON decodes a property affordance.
func (p *Property) UnmarshalJSON(data []byte) error {
	*p = Property{}
	return unmarshal(data, func(d *decoder) {
		if x := d.property(); x != nil {
			*p = *x
		}
	})
}

// MarshalJSON encodes the action affordance.
func (a Action) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.action(&a) })
}

// UnmarshalJSON decodes an action affordance.
func (a *Action) UnmarshalJSON(data []byte) error {
	*a = Action{}
	return unmarshal(data, func(d *decoder) {
		if x := d.action(); x != nil {
			*a = *x
		}
	})
}

// MarshalJSON encodes the event affordance.
func (ev Event) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.event(&ev) })
}

// UnmarshalJSON decodes an event affordance.
func (ev *Event) UnmarshalJSON(data []byte) error {
	*ev = Event{}
	return unmarshal(data, func(d *decoder) {
		if x := d.event(); x != nil {
			*ev = *x
		}
	})
}

// MarshalJSON encodes the form.
func (f Form) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.form(&f) })
}

// UnmarshalJSON decodes a form.
func (f *Form) UnmarshalJSON(data []byte) error {
	*f = Form{}
	return unmarshal(data, func(d *decoder) {
		if d.peek() != '{' {
			d.typeError("an object")
			return
		}
		d.form(f)
	})
}

// MarshalJSON encodes the expected response.
func (r ExpectedResponse) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.response(&r) })
}

// UnmarshalJSON decodes a form's "response".
func (r *ExpectedResponse) UnmarshalJSON(data []byte) error {
	*r = ExpectedResponse{}
	return unmarshal(data, func(d *decoder) {
		if x := d.response(); x != nil {
			*r = *x
		}
	})
}

// MarshalJSON encodes the additional response.
func (r AdditionalResponse) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.additionalResponse(&r) })
}

// UnmarshalJSON decodes one of a form's "additionalResponses".
func (r *AdditionalResponse) UnmarshalJSON(data []byte) error {
	*r = AdditionalResponse{}
	return unmarshal(data, func(d *decoder) {
		*r, _ = d.additionalResponse()
	})
}

// MarshalJSON encodes the link.
func (l Link) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.link(&l) })
}

// UnmarshalJSON decodes a link.
func (l *Link) UnmarshalJSON(data []byte) error {
	*l = Link{}
	return unmarshal(data, func(d *decoder) {
		*l, _ = d.link()
	})
}

// MarshalJSON encodes the security scheme.
func (s SecurityScheme) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) { e.securityScheme(&s) })
}

// UnmarshalJSON decodes a security scheme.
func (s *SecurityScheme) UnmarshalJSON(data []byte) error {
	*s = SecurityScheme{}
	return unmarshal(data, func(d *decoder) {
		if x := d.securityScheme(); x != nil {
			*s = *x
		}
	})
}

// Compile-time checks that every model type round-trips through
// encoding/json with these methods.
var (
	_ json.Marshaler   = Description{}
	_ json.Unmarshaler = (*Description)(nil)
	_ json.Marshaler   = Property{}
	_ json.Unmarshaler = (*Property)(nil)
)
