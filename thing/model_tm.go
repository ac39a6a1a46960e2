package thing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Thing Models (TD 1.1 chapter 10): templates for Thing Descriptions.

// ErrNotFound is what a Loader returns (wrapped or not) for a document it
// does not have. Resolution reports documents that cannot be loaded with
// errors matching it.
var ErrNotFound = errors.New("thing: document not found")

// ErrNoLoader is matched by errors from resolving a Thing Model that
// refers to other documents when no Loader was given.
var ErrNoLoader = errors.New("thing: Thing Model refers to other documents and no Loader was given")

// ErrPlaceholder is matched by the error Instantiate returns when the
// model has placeholders without values.
var ErrPlaceholder = errors.New("thing: placeholder without a value")

// ErrNotConforming is matched by the error CheckModel and Model.Check
// return for a Thing Description that does not conform to its model.
var ErrNotConforming = errors.New("thing: Thing Description does not conform to its Thing Model")

// A Loader fetches the documents Thing Models refer to: the targets of
// "tm:ref" and "tm:extends", and the model a Thing Description's "type"
// link names. Hearth fetches nothing itself; a Loader backed by an HTTP
// client, an fs.FS or a map decides what is reachable. uri is absolute
// (resolved against the referring model's URL when that is known). Load
// returns an error matching ErrNotFound for a document it does not have.
//
// Loaders may be called concurrently.
type Loader interface {
	Load(ctx context.Context, uri string) ([]byte, error)
}

// LoaderFunc adapts a function to the Loader interface. It is as safe for
// concurrent use as the function is.
type LoaderFunc func(ctx context.Context, uri string) ([]byte, error)

// Load calls f.
func (f LoaderFunc) Load(ctx context.Context, uri string) ([]byte, error) { return f(ctx, uri) }

// MapLoader is a Loader over documents held in memory, keyed by URI. It
// is safe for concurrent use as long as no one modifies the map.
type MapLoader map[string][]byte

// Load returns the document for uri, or an error matching ErrNotFound.
func (m MapLoader) Load(_ context.Context, uri string) ([]byte, error) {
	if b, ok := m[uri]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, uri)
}

// Model is a Thing Model: a template for Thing Descriptions, recognised by
// "tm:ThingModel" in its "@type". It may leave values open as
// {{PLACEHOLDERS}}, import parts of other models ("tm:ref"), extend a
// parent ("tm:extends" links) and mark affordances optional
// ("tm:optional").
//
// A Model is immutable and safe for concurrent use.
type Model struct {
	root *node
	url  string
}

// IsModel reports whether data is a JSON object whose "@type" includes
// "tm:ThingModel". It does not validate.
func IsModel(data []byte) bool {
	n, err := parseTree(data)
	return err == nil && isModelNode(n)
}

func isModelNode(n *node) bool {
	return slices.Contains(n.get("@type").strings(), "tm:ThingModel")
}

// ParseModel parses and validates a Thing Model against the TD 1.1 rules
// for models: the TD rules relaxed where a model may leave things open
// (title, security, forms and hrefs may be absent; a placeholder may stand
// for any value), plus the model's own (an "@type" with "tm:ThingModel",
// no version instance, no placeholder as a member name, well-formed
// "tm:optional" pointers to affordances, "tm:ref" strings). Nothing is
// fetched: see Model.Resolve. Errors are *ValidationError as for Parse.
func ParseModel(data []byte) (*Model, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	if err := validateModel(data, root); err != nil {
		return nil, err
	}
	return &Model{root: root}, nil
}

func validateModel(data []byte, root *node) error {
	var t Description
	d := newDecoder(data)
	d.model = true
	if err := d.run(func() { d.description(&t) }); err != nil {
		return err
	}
	v := validator{model: true, errs: d.errs}
	v.description(&t)
	if root.kind != 'o' {
		return v.err()
	}
	if !isModelNode(root) {
		v.fail("must include tm:ThingModel in a Thing Model", "@type")
	}
	if opt := root.get("tm:optional"); opt != nil {
		if opt.kind != 'a' {
			v.fail("must be an array of JSON pointers", "tm:optional")
		}
		for i, p := range opt.arr {
			if p.kind != 's' || !isOptionalPointer(p.str) {
				v.fail("must point to an affordance, like /properties/name", "tm:optional", strconv.Itoa(i))
			}
		}
	}
	walkRefs(root, "", func(ptr string, ref *node) {
		if ref.kind != 's' || !isURIReference(ref.str) {
			v.errs = append(v.errs, &ValidationError{Path: ptr + "/tm:ref", Msg: "must be a URI reference"})
		}
	})
	return v.err()
}

// isOptionalPointer matches the TM schema's tm:optional items: a pointer
// to /properties/X, /actions/X or /events/X, and no deeper.
func isOptionalPointer(p string) bool {
	for _, prefix := range [...]string{"/properties/", "/actions/", "/events/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			return rest != "" && rest[0] != '/' && strings.Count(p, "/") < 3
		}
	}
	return false
}

func isURIReference(s string) bool {
	if strings.ContainsAny(s, "\\ ") {
		return false
	}
	_, err := url.Parse(s)
	return err == nil
}

// walkRefs calls fn for every "tm:ref" member, with the pointer of the
// object holding it.
func walkRefs(n *node, ptr string, fn func(ptr string, ref *node)) {
	switch n.kind {
	case 'o':
		for _, m := range n.obj {
			if m.key == "tm:ref" {
				fn(ptr, m.val)
				continue
			}
			walkRefs(m.val, ptr+"/"+string(appendPointerToken(nil, []byte(m.key))), fn)
		}
	case 'a':
		for i, e := range n.arr {
			walkRefs(e, ptr+"/"+strconv.Itoa(i), fn)
		}
	}
}

// WithURL returns a copy of the model that knows the URL it was loaded
// from: relative "tm:ref" and "tm:extends" targets resolve against it,
// and instances link back to it.
func (m *Model) WithURL(u string) *Model { return &Model{root: m.root, url: u} }

// URL returns the model's URL, if known.
func (m *Model) URL() string { return m.url }

// Title returns the model's title (possibly with placeholders).
func (m *Model) Title() string {
	if t := m.root.get("title"); t != nil && t.kind == 's' {
		return t.str
	}
	return ""
}

// MarshalJSON returns the model as written (members in their order).
func (m *Model) MarshalJSON() ([]byte, error) { return m.root.append(nil), nil }

// Placeholders returns the names of the {{PLACEHOLDERS}} the model uses,
// sorted.
func (m *Model) Placeholders() []string {
	set := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		switch n.kind {
		case 's':
			for _, p := range placeholderNames(n.str) {
				set[p] = true
			}
		case 'o':
			for _, mm := range n.obj {
				walk(mm.val)
			}
		case 'a':
			for _, e := range n.arr {
				walk(e)
			}
		}
	}
	walk(m.root)
	return sortedKeys(set)
}

// Optional returns the model's "tm:optional" pointers.
func (m *Model) Optional() []string { return m.root.get("tm:optional").strings() }

// placeholderNames returns the names in "{{NAME}}" occurrences of s.
func placeholderNames(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return out
		}
		if name := s[i+2 : i+2+j]; name != "" {
			out = append(out, name)
		}
		s = s[i+2+j+2:]
	}
}

// Resolve returns the model with its "tm:extends" parents merged in and
// its "tm:ref" imports inlined, loading them through l (relative URIs
// resolve against the model's URL). A parent link declared as a Thing
// Model ("type": "application/tm+json") must load; any other reference
// the loader cannot find is left unresolved and reported as a warning.
// A nil Loader resolves only references within the model itself.
func (m *Model) Resolve(ctx context.Context, l Loader) (*Model, []Warning, error) {
	r := resolver{ctx: ctx, loader: l, seen: map[string]bool{}}
	root, err := r.resolve(m.root.clone(), m.url, 0)
	if err != nil {
		return nil, r.warns, err
	}
	return &Model{root: root, url: m.url}, r.warns, nil
}

type resolver struct {
	ctx    context.Context
	loader Loader
	warns  []Warning
	seen   map[string]bool // documents on the current extends chain (cycles)
	budget int             // references resolved so far (hostile models)
}

// maxReferences bounds the tm:ref and tm:extends resolutions of one
// Resolve call, so a model whose imports fan out cannot run away.
const maxReferences = 10000

const maxModelDepth = 16

func (r *resolver) load(base, ref string) (*node, string, error) {
	target := ref
	if base != "" {
		if b, err := url.Parse(base); err == nil {
			if u, err := b.Parse(ref); err == nil {
				target = u.String()
			}
		}
	}
	if r.loader == nil {
		return nil, target, fmt.Errorf("%w: %s", ErrNoLoader, target)
	}
	if r.budget++; r.budget > maxReferences {
		return nil, target, errors.New("thing: too many Thing Model references")
	}
	data, err := r.loader.Load(r.ctx, target)
	if err != nil {
		return nil, target, fmt.Errorf("thing: loading %s: %w", target, err)
	}
	n, err := parseTree(data)
	if err != nil {
		return nil, target, fmt.Errorf("thing: %s: %w", target, err)
	}
	return n, target, nil
}

func (r *resolver) resolve(root *node, base string, depth int) (*node, error) {
	if depth > maxModelDepth {
		return nil, errors.New("thing: Thing Model references nest too deeply")
	}
	// Parents first: the child's own members override what it inherits.
	if links := root.get("links"); links != nil && links.kind == 'a' {
		kept := links.arr[:0:0]
		for i, l := range links.arr {
			if l.get("rel") == nil || l.get("rel").str != "tm:extends" {
				kept = append(kept, l)
				continue
			}
			href := l.get("href")
			if href == nil || href.kind != 's' {
				continue
			}
			parent, target, err := r.load(base, href.str)
			if err == nil && r.seen[target] {
				err = fmt.Errorf("thing: tm:extends cycle through %s", target)
			}
			if err == nil {
				r.seen[target] = true
				parent, err = r.resolve(parent, target, depth+1)
				delete(r.seen, target)
			}
			if err != nil {
				// A parent declared as a Thing Model must be there: without
				// it the model is incomplete. Others may be resolvable
				// elsewhere; warn.
				if t := l.get("type"); t != nil && t.str == MediaTypeTM {
					return nil, err
				}
				r.warns = append(r.warns, Warning{Path: "/links/" + strconv.Itoa(i), Msg: "parent model not resolved: " + err.Error()})
				kept = append(kept, l)
				continue
			}
			root = mergeModel(parent, root)
		}
		if len(kept) == 0 {
			root.del("links")
		} else {
			root.get("links").arr = kept
		}
	}
	// Then imports.
	var err error
	root, err = r.inlineRefs(root, root, base, "", depth)
	return root, err
}

// inlineRefs replaces objects holding "tm:ref" by the referenced object
// merged with their own members.
func (r *resolver) inlineRefs(doc, n *node, base, ptr string, depth int) (*node, error) {
	switch n.kind {
	case 'o':
		if ref := n.get("tm:ref"); ref != nil && ref.kind == 's' {
			target, err := r.refTarget(doc, base, ref.str, depth)
			if err != nil {
				r.warns = append(r.warns, Warning{Path: ptr + "/tm:ref", Msg: "not resolved: " + err.Error()})
			} else {
				own := n.clone()
				own.del("tm:ref")
				n = mergeModel(target, own)
			}
		}
		for i := range n.obj {
			v, err := r.inlineRefs(doc, n.obj[i].val, base, ptr+"/"+string(appendPointerToken(nil, []byte(n.obj[i].key))), depth)
			if err != nil {
				return nil, err
			}
			n.obj[i].val = v
		}
	case 'a':
		for i := range n.arr {
			v, err := r.inlineRefs(doc, n.arr[i], base, ptr+"/"+strconv.Itoa(i), depth)
			if err != nil {
				return nil, err
			}
			n.arr[i] = v
		}
	}
	return n, nil
}

func (r *resolver) refTarget(doc *node, base, ref string, depth int) (*node, error) {
	if depth > maxModelDepth {
		return nil, errors.New("tm:ref nests too deeply")
	}
	if r.budget++; r.budget > maxReferences {
		return nil, errors.New("too many tm:ref references")
	}
	docPart, frag, _ := strings.Cut(ref, "#")
	src, srcURL := doc, base
	if docPart != "" {
		n, target, err := r.load(base, docPart)
		if err != nil {
			return nil, err
		}
		src, srcURL = n, target
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil, err
	}
	t := src.lookup(frag)
	if t == nil || t.kind != 'o' {
		return nil, fmt.Errorf("%q points to no object", ref)
	}
	t = t.clone()
	// The target may itself import.
	return r.inlineRefs(src, t, srcURL, "", depth+1)
}

// mergeModel merges child over parent: objects merge member by member
// (the child's win), anything else the child replaces.
func mergeModel(parent, child *node) *node {
	if parent == nil {
		return child
	}
	if child == nil {
		return parent.clone()
	}
	if parent.kind != 'o' || child.kind != 'o' {
		return child
	}
	out := parent.clone()
	for _, m := range child.obj {
		out.set(m.key, mergeModel(out.get(m.key), m.val))
	}
	return out
}

// Instance tells Model.Instantiate how to make a Thing Description. It is
// read, never modified, by Instantiate.
// The zero value makes one with no optional affordances, values for no
// placeholders (an error if the model has any), no Loader, a "nosec"
// scheme if the model has none, and generated forms.
type Instance struct {
	// ID is the new Thing's id ("" for none).
	ID string
	// Placeholders maps placeholder names to values. A value replaces a
	// string that is exactly "{{NAME}}" as it is (so a number stays a
	// number); inside longer text it is written as text.
	Placeholders map[string]any
	// Optional lists the "tm:optional" affordances to keep, as pointers
	// ("/actions/toggle"); "*" keeps all.
	Optional []string
	// Loader fetches referenced models; nil fetches nothing.
	Loader Loader
	// Version is the version instance of the new Thing; empty uses the
	// model's version.
	Version string
	// Base is the new Thing's base URI.
	Base string
	// Forms returns the forms of an affordance the model gives none
	// (kind is "properties", "actions" or "events"). Nil generates one
	// form per affordance as Builder does.
	Forms func(kind, name string) []Form
}

// Instantiate makes a Thing Description from the model: references are
// resolved (all must resolve), placeholders replaced, optional
// affordances not asked for dropped, and Thing Model terms removed; the
// new TD gets a "type" link to the model's URL when it is known. The
// result is validated as Parse would.
func (m *Model) Instantiate(ctx context.Context, in Instance) (*Description, error) {
	res, warns, err := m.Resolve(ctx, in.Loader)
	if err != nil {
		return nil, err
	}
	if len(warns) > 0 {
		return nil, fmt.Errorf("thing: cannot instantiate with unresolved references: %s", warns[0])
	}
	root := res.root.clone()
	if err := fillPlaceholders(root, in.Placeholders); err != nil {
		return nil, err
	}
	keep := func(ptr string) bool {
		return slices.Contains(in.Optional, "*") || slices.Contains(in.Optional, ptr)
	}
	for _, p := range root.get("tm:optional").strings() {
		if keep(p) {
			continue
		}
		kind, name, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if aff := root.get(kind); aff != nil {
			aff.del(name)
		}
	}
	root.del("tm:optional")
	if t := root.get("@type"); t != nil {
		switch t.kind {
		case 's':
			if t.str == "tm:ThingModel" {
				root.del("@type")
			}
		case 'a':
			t.arr = slices.DeleteFunc(t.arr, func(e *node) bool { return e.str == "tm:ThingModel" })
			if len(t.arr) == 0 {
				root.del("@type")
			}
		}
	}
	if in.ID != "" {
		root.set("id", &node{kind: 's', str: in.ID})
	}
	if in.Base != "" {
		root.set("base", &node{kind: 's', str: in.Base})
	}
	if v := root.get("version"); v != nil && v.kind == 'o' || in.Version != "" {
		if v == nil || v.kind != 'o' {
			v = &node{kind: 'o'}
			root.set("version", v)
		}
		inst := in.Version
		if inst == "" {
			if mv := v.get("model"); mv != nil && mv.kind == 's' {
				inst = mv.str
			}
		}
		v.set("instance", &node{kind: 's', str: inst})
	}
	if root.get("securityDefinitions") == nil {
		root.set("securityDefinitions", &node{kind: 'o', obj: []member{{"nosec_sc", &node{kind: 'o', obj: []member{{"scheme", &node{kind: 's', str: "nosec"}}}}}}})
		root.set("security", &node{kind: 's', str: "nosec_sc"})
	}
	for _, kind := range [...]string{"properties", "actions", "events"} {
		affs := root.get(kind)
		if affs == nil || affs.kind != 'o' {
			continue
		}
		for _, a := range affs.obj {
			if a.val.kind != 'o' || a.val.get("forms") != nil {
				continue
			}
			var forms []Form
			if in.Forms != nil {
				forms = in.Forms(kind, a.key)
			} else {
				forms = defaultForms(kind, a.key, a.val)
			}
			e := encoder{}
			e.b = append(e.b, '[')
			for i := range forms {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.form(&forms[i])
			}
			e.b = append(e.b, ']')
			fn, err := parseTree(e.b)
			if err != nil {
				return nil, err
			}
			a.val.set("forms", fn)
		}
	}
	if m.url != "" {
		links := root.get("links")
		if links == nil || links.kind != 'a' {
			links = &node{kind: 'a'}
			root.set("links", links)
		}
		links.arr = append(links.arr, &node{kind: 'o', obj: []member{
			{"rel", &node{kind: 's', str: "type"}},
			{"href", &node{kind: 's', str: m.url}},
			{"type", &node{kind: 's', str: MediaTypeTM}},
		}})
	}
	return Parse(root.append(nil))
}

func defaultForms(kind, name string, aff *node) []Form {
	switch kind {
	case "properties":
		ro := aff.get("readOnly") != nil && aff.get("readOnly").str == "true"
		wo := aff.get("writeOnly") != nil && aff.get("writeOnly").str == "true"
		obs := aff.get("observable") != nil && aff.get("observable").str == "true"
		var ops []string
		if !wo {
			ops = append(ops, OpReadProperty)
		}
		if !ro {
			ops = append(ops, OpWriteProperty)
		}
		if obs {
			ops = append(ops, OpObserveProperty, OpUnobserveProperty)
		}
		return []Form{{Href: "properties/" + name, Op: Strings{Values: ops, Array: true}}}
	case "actions":
		return []Form{{Href: "actions/" + name, Op: Strings{Values: []string{OpInvokeAction}}}}
	}
	return []Form{{Href: "events/" + name, Op: Strings{Values: []string{OpSubscribeEvent, OpUnsubscribeEvent}, Array: true}}}
}

// fillPlaceholders replaces placeholders in all strings of n.
func fillPlaceholders(n *node, vals map[string]any) error {
	var missing []string
	var walk func(n *node) *node
	walk = func(n *node) *node {
		switch n.kind {
		case 's':
			names := placeholderNames(n.str)
			if len(names) == 0 {
				return n
			}
			if len(names) == 1 && n.str == "{{"+names[0]+"}}" {
				v, ok := vals[names[0]]
				if !ok {
					missing = append(missing, names[0])
					return n
				}
				if s, isStr := v.(string); isStr {
					return &node{kind: 's', str: s}
				}
				vn, err := nodeOf(v)
				if err != nil {
					missing = append(missing, names[0]+" (unencodable value)")
					return n
				}
				return vn
			}
			s := n.str
			for _, name := range names {
				v, ok := vals[name]
				if !ok {
					missing = append(missing, name)
					continue
				}
				text, isStr := v.(string)
				if !isStr {
					vn, err := nodeOf(v)
					if err != nil {
						missing = append(missing, name+" (unencodable value)")
						continue
					}
					text = string(vn.append(nil))
				}
				s = strings.ReplaceAll(s, "{{"+name+"}}", text)
			}
			return &node{kind: 's', str: s}
		case 'o':
			for i := range n.obj {
				n.obj[i].val = walk(n.obj[i].val)
			}
		case 'a':
			for i := range n.arr {
				n.arr[i] = walk(n.arr[i])
			}
		}
		return n
	}
	walk(n)
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %s", ErrPlaceholder, strings.Join(slices.Compact(missing), ", "))
	}
	return nil
}

// Check reports whether t conforms to the model: every affordance the
// model does not mark optional is present, and every member the model
// gives an affordance (other than forms, Thing Model terms and values
// that are still placeholders) has the same value in t; t may add
// affordances and members. The model should be resolved first (see
// Resolve). Violations are *ValidationError with paths into t, joined
// with ErrNotConforming.
func (m *Model) Check(t *Description) error {
	raw, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	td, err := parseTree(raw)
	if err != nil {
		return err
	}
	var errs []error
	optional := m.Optional()
	for _, kind := range [...]string{"properties", "actions", "events"} {
		affs := m.root.get(kind)
		if affs == nil || affs.kind != 'o' {
			continue
		}
		for _, a := range affs.obj {
			ptr := "/" + kind + "/" + string(appendPointerToken(nil, []byte(a.key)))
			got := td.get(kind).get(a.key)
			if got == nil {
				if !slices.Contains(optional, ptr) {
					errs = append(errs, &ValidationError{Path: ptr, Msg: "is required by the Thing Model"})
				}
				continue
			}
			conform(a.val, got, ptr, &errs)
		}
	}
	if len(errs) > 0 {
		return errors.Join(append([]error{ErrNotConforming}, errs...)...)
	}
	return nil
}

// defaultFalse lists terms whose default is false: a model saying false
// is satisfied by an instance that omits them.
var defaultFalse = map[string]bool{"readOnly": true, "writeOnly": true, "observable": true, "safe": true, "idempotent": true}

func conform(model, inst *node, ptr string, errs *[]error) {
	if model.kind == 's' && len(placeholderNames(model.str)) > 0 {
		return // left open by the model
	}
	if model.kind == 'o' && inst.kind == 'o' {
		for _, m := range model.obj {
			if m.key == "forms" || strings.HasPrefix(m.key, "tm:") {
				continue
			}
			p := ptr + "/" + string(appendPointerToken(nil, []byte(m.key)))
			got := inst.get(m.key)
			if got == nil {
				if defaultFalse[m.key] && m.val.kind == 'b' && m.val.str == "false" {
					continue
				}
				*errs = append(*errs, &ValidationError{Path: p, Msg: "is required by the Thing Model"})
				continue
			}
			conform(m.val, got, p, errs)
		}
		return
	}
	if !equalJSON(model, inst) {
		*errs = append(*errs, &ValidationError{Path: ptr, Msg: "differs from the Thing Model (" + string(model.append(nil)) + ")"})
	}
}

// CheckModel checks that t conforms to the Thing Model its "type" link
// names, loading the model (and what it refers to) through l. It returns
// nil when t has no such link. When the model cannot be loaded or
// resolved the error matches ErrNotFound (or ErrNoLoader): a processor
// would warn, not reject. Otherwise a non-conforming t gets an error
// matching ErrNotConforming.
func CheckModel(ctx context.Context, t *Description, l Loader) error {
	var href string
	for _, link := range t.Links {
		if link.Rel == "type" {
			href = link.Href
			break
		}
	}
	if href == "" {
		return nil
	}
	if l == nil {
		return fmt.Errorf("%w: %s", ErrNoLoader, href)
	}
	data, err := l.Load(ctx, href)
	if err != nil {
		return fmt.Errorf("thing: loading Thing Model %s: %w", href, err)
	}
	m, err := ParseModel(data)
	if err != nil {
		return fmt.Errorf("thing: Thing Model %s: %w", href, err)
	}
	res, warns, err := m.WithURL(href).Resolve(ctx, l)
	if err != nil {
		return err
	}
	if len(warns) > 0 {
		return fmt.Errorf("%w: Thing Model %s: %s", ErrNotFound, href, warns[0])
	}
	return res.Check(t)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
