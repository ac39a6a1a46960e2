package thing

import (
	"errors"
	"fmt"
	"net/url"
)

// ErrNoBase is matched by the error ResolveForm returns for a relative
// href when neither the Thing's base nor a retrieval URL is known.
var ErrNoBase = errors.New("thing: relative href with no base URI")

// ResolveForm returns the URL form f targets. The href is first expanded
// as an RFC 6570 URI template with vars, and only then resolved against
// the Thing's base: resolving a template such as "{?lat,lon}" with
// net/url first would mangle it.
//
// affordanceVars are the "uriVariables" of the affordance the form
// belongs to (nil for a Thing-level form). A variable missing from vars
// takes the "default" (or "const") of its schema, the affordance's schema
// winning over the Thing's. Values given for declared variables are
// checked against those schemas (type, enum, range, length; not pattern),
// with errors matching ErrInvalidValue. Variables the schemas do not
// declare (such as an API key placed in the URI) are expanded as given.
//
// A relative href with no base is an error matching ErrNoBase; use
// ResolveFormFrom when the URL the TD was retrieved from is known.
func (t *Description) ResolveForm(f *Form, affordanceVars map[string]*DataSchema, vars map[string]any) (*url.URL, error) {
	return t.ResolveFormFrom("", f, affordanceVars, vars)
}

// ResolveFormFrom is ResolveForm for a TD retrieved from the URL
// retrieved: a relative base, or a relative href without a base, is
// resolved against it (RFC 3986 section 5.1.3).
func (t *Description) ResolveFormFrom(retrieved string, f *Form, affordanceVars map[string]*DataSchema, vars map[string]any) (*url.URL, error) {
	merged, err := t.templateValues(affordanceVars, vars)
	if err != nil {
		return nil, err
	}
	href, err := ExpandTemplate(f.Href, merged)
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("thing: form href %q: %w", href, err)
	}
	if ref.IsAbs() {
		return ref, nil
	}
	base, err := t.baseURL(retrieved)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoBase, href)
	}
	return base.ResolveReference(ref), nil
}

// BaseURL returns the URL relative hrefs of the Thing resolve against:
// its base, itself resolved against retrieved when relative; or retrieved
// when there is no base; or nil if neither is known.
func (t *Description) BaseURL(retrieved string) (*url.URL, error) { return t.baseURL(retrieved) }

func (t *Description) baseURL(retrieved string) (*url.URL, error) {
	var doc *url.URL
	if retrieved != "" {
		u, err := url.Parse(retrieved)
		if err != nil {
			return nil, fmt.Errorf("thing: retrieval URL: %w", err)
		}
		if !u.IsAbs() {
			return nil, fmt.Errorf("thing: retrieval URL %q is not absolute", retrieved)
		}
		doc = u
	}
	if t.Base == "" {
		return doc, nil
	}
	b, err := url.Parse(t.Base)
	if err != nil {
		return nil, fmt.Errorf("thing: base: %w", err)
	}
	if b.IsAbs() {
		return b, nil
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: base %q is relative", ErrNoBase, t.Base)
	}
	return doc.ResolveReference(b), nil
}

// templateValues merges caller values with schema defaults and checks
// declared variables.
func (t *Description) templateValues(aff map[string]*DataSchema, vars map[string]any) (map[string]any, error) {
	schemaFor := func(name string) *DataSchema {
		if s := aff[name]; s != nil {
			return s
		}
		return t.URIVariables[name]
	}
	var merged map[string]any
	var errs []error
	for name, val := range vars {
		if s := schemaFor(name); s != nil && val != nil {
			c, err := compileSchema(s, 0, true)
			if err != nil {
				return nil, err
			}
			if err := c.Validate(val); err != nil {
				errs = append(errs, fmt.Errorf("uriVariable %q: %w", name, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	fill := func(m map[string]*DataSchema) {
		for name := range m {
			if _, given := vars[name]; given {
				continue
			}
			s := schemaFor(name)
			var v any
			switch {
			case s.HasDefault || s.Default != nil:
				v = s.Default
			case s.HasConst || s.Const != nil:
				v = s.Const
			default:
				continue
			}
			if merged == nil {
				merged = make(map[string]any, len(vars)+2)
				for k, x := range vars {
					merged[k] = x
				}
			}
			merged[name] = v
		}
	}
	fill(aff)
	fill(t.URIVariables)
	if merged == nil {
		return vars, nil
	}
	return merged, nil
}
