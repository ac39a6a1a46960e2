package thing

// Well-known URIs and media types.
const (
	// ContextV11 is the TD 1.1 context URI, the first "@context" entry of
	// a TD 1.1 document.
	ContextV11 = "https://www.w3.org/2022/wot/td/v1.1"
	// ContextV1 is the TD 1.0 context URI. A TD 1.1 document may start
	// with it when it is followed by ContextV11.
	ContextV1 = "https://www.w3.org/2019/wot/td/v1"

	// ContentTypeJSON is the default content type of a form.
	ContentTypeJSON = "application/json"
	// MediaTypeTD is the media type of a Thing Description.
	MediaTypeTD = "application/td+json"
	// MediaTypeTM is the media type of a Thing Model.
	MediaTypeTM = "application/tm+json"
)

// Spec defaults. The model keeps what a document says (an absent
// contentType stays empty, so re-serialising adds nothing); these methods
// answer what it means.

// EffectiveContentType returns the form's contentType, or the TD 1.1
// default "application/json" when it has none.
func (f *Form) EffectiveContentType() string {
	if f.ContentType != "" {
		return f.ContentType
	}
	return ContentTypeJSON
}

// EffectiveContentType returns the response's contentType, or the
// default of its form (f) when it has none.
func (r *AdditionalResponse) EffectiveContentType(f *Form) string {
	if r.ContentType != "" {
		return r.ContentType
	}
	return f.EffectiveContentType()
}

// IsSuccess reports the additional response's "success", false by default.
func (r *AdditionalResponse) IsSuccess() bool { return r.Success != nil && *r.Success }

// DefaultOps returns the operations a property form without "op" stands
// for: readproperty and writeproperty, only readproperty for a readOnly
// property, only writeproperty for a writeOnly one.
func (p *Property) DefaultOps() []string {
	switch {
	case p.ReadOnly && !p.WriteOnly:
		return []string{OpReadProperty}
	case p.WriteOnly && !p.ReadOnly:
		return []string{OpWriteProperty}
	}
	return []string{OpReadProperty, OpWriteProperty}
}

// DefaultOps returns the operations an action form without "op" stands
// for: invokeaction.
func (a *Action) DefaultOps() []string { return []string{OpInvokeAction} }

// DefaultOps returns the operations an event form without "op" stands
// for: subscribeevent and unsubscribeevent.
func (e *Event) DefaultOps() []string { return []string{OpSubscribeEvent, OpUnsubscribeEvent} }

// Ops returns the operations of the property's i-th form: its "op", or
// the defaults.
func (p *Property) Ops(i int) []string { return formOps(&p.Forms[i], p.DefaultOps) }

// Ops returns the operations of the action's i-th form.
func (a *Action) Ops(i int) []string { return formOps(&a.Forms[i], a.DefaultOps) }

// Ops returns the operations of the event's i-th form.
func (e *Event) Ops(i int) []string { return formOps(&e.Forms[i], e.DefaultOps) }

func formOps(f *Form, def func() []string) []string {
	if len(f.Op.Values) > 0 {
		return f.Op.Values
	}
	return def()
}

// FormFor returns the first form of the property that performs op (with
// the default ops applied), or nil.
func (p *Property) FormFor(op string) *Form { return formFor(p.Forms, op, p.DefaultOps) }

// FormFor returns the first form of the action that performs op, or nil.
func (a *Action) FormFor(op string) *Form { return formFor(a.Forms, op, a.DefaultOps) }

// FormFor returns the first form of the event that performs op, or nil.
func (e *Event) FormFor(op string) *Form { return formFor(e.Forms, op, e.DefaultOps) }

// FormFor returns the first Thing-level form that performs op (such as
// readallproperties), or nil. Thing-level forms have no default op.
func (t *Description) FormFor(op string) *Form { return formFor(t.Forms, op, nil) }

func formFor(forms []Form, op string, def func() []string) *Form {
	for i := range forms {
		f := &forms[i]
		ops := f.Op.Values
		if len(ops) == 0 && def != nil {
			ops = def()
		}
		for _, o := range ops {
			if o == op {
				return f
			}
		}
	}
	return nil
}

// EffectiveIn returns where the scheme's credentials go: its "in", or the
// TD 1.1 default (header for basic, digest and bearer; query for apikey).
// It returns "" for schemes that have no "in".
func (s *SecurityScheme) EffectiveIn() string {
	if s.In != "" {
		return s.In
	}
	switch s.Scheme {
	case "basic", "digest", "bearer":
		return "header"
	case "apikey":
		return "query"
	}
	return ""
}

// EffectiveQop returns a digest scheme's quality of protection, "auth" by
// default.
func (s *SecurityScheme) EffectiveQop() string {
	if s.Qop == "" && s.Scheme == "digest" {
		return "auth"
	}
	return s.Qop
}

// EffectiveAlg returns a bearer scheme's signing algorithm, "ES256" by
// default.
func (s *SecurityScheme) EffectiveAlg() string {
	if s.Alg == "" && s.Scheme == "bearer" {
		return "ES256"
	}
	return s.Alg
}

// EffectiveFormat returns a bearer scheme's token format, "jwt" by default.
func (s *SecurityScheme) EffectiveFormat() string {
	if s.Format == "" && s.Scheme == "bearer" {
		return "jwt"
	}
	return s.Format
}
