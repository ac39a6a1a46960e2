package consent

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// AllThings, written as a Scope's Thing, makes the scope cover every thing.
// It is never implied: an empty Thing is an error, not a wildcard.
const AllThings = "*"

// Limits on the size of scopes, so that a request cannot make the ledger
// hold or sign arbitrarily large grants.
const (
	maxScopes     = 256
	maxNames      = 256
	maxIDLength   = 1024
	maxScopeBytes = 32 << 10
)

// A Scope is one part of what a grant permits: some operations on one thing
// (or, spelled out, on every thing), optionally only on some of its
// affordances.
//
// Matching is by whole segment: Thing must equal the request's thing id
// exactly (a scope for "lamp" says nothing about "lamp2"), each op is a
// TD 1.1 op word compared exactly, and each name an affordance name compared
// exactly.
//
// A Scope is plain data whose copies share Ops and Names; it is safe for
// concurrent reads, and the Ledger copies every Scope it is given or
// returns, so it never shares one with its caller.
type Scope struct {
	// Thing is the thing's id, or AllThings.
	Thing string `json:"thing"`
	// Ops are TD 1.1 op words (the thing.Op* constants). At least one.
	Ops []string `json:"ops"`
	// Names, when not empty, restricts the scope to these affordances
	// (properties, actions or events). Only affordance-level ops
	// (readproperty, writeproperty, observeproperty, unobserveproperty,
	// invokeaction, queryaction, cancelaction, subscribeevent,
	// unsubscribeevent) may be restricted by name.
	Names []string `json:"names,omitempty"`
}

// opInfo describes one TD op word: its bit in a scope's op mask, whether it
// addresses a single affordance, and whether it only reads.
type opInfo struct {
	bit        uint32
	affordance bool
	read       bool
}

var opTable = func() map[string]opInfo {
	words := []struct {
		op         string
		affordance bool
		read       bool
	}{
		{thing.OpReadProperty, true, true},
		{thing.OpWriteProperty, true, false},
		{thing.OpObserveProperty, true, true},
		{thing.OpUnobserveProperty, true, true},
		{thing.OpInvokeAction, true, false},
		{thing.OpQueryAction, true, true},
		{thing.OpCancelAction, true, false},
		{thing.OpSubscribeEvent, true, true},
		{thing.OpUnsubscribeEvent, true, true},
		{thing.OpReadAllProperties, false, true},
		{thing.OpWriteAllProperties, false, false},
		{thing.OpReadMultipleProperties, false, true},
		{thing.OpWriteMultipleProperties, false, false},
		{thing.OpObserveAllProperties, false, true},
		{thing.OpUnobserveAllProperties, false, true},
		{thing.OpQueryAllActions, false, true},
		{thing.OpSubscribeAllEvents, false, true},
		{thing.OpUnsubscribeAllEvents, false, true},
	}
	m := make(map[string]opInfo, len(words))
	for i, w := range words {
		m[w.op] = opInfo{bit: 1 << i, affordance: w.affordance, read: w.read}
	}
	return m
}()

// opOrder lists the op words in bit order, for canonical formatting.
var opOrder = func() []string {
	out := make([]string, len(opTable))
	for op, info := range opTable {
		for i := range out {
			if info.bit == 1<<i {
				out[i] = op
			}
		}
	}
	return out
}()

// ReadOps returns the op words that only read or observe: with them an app
// can see a thing's state but not change it.
func ReadOps() []string {
	var out []string
	for _, op := range opOrder {
		if opTable[op].read {
			out = append(out, op)
		}
	}
	return out
}

// ReadWriteOps returns every op word: reading, observing, writing and
// invoking actions.
func ReadWriteOps() []string { return slices.Clone(opOrder) }

// ReadOnly reports whether every op of s only reads or observes.
func (s Scope) ReadOnly() bool {
	for _, op := range s.Ops {
		if !opTable[op].read {
			return false
		}
	}
	return true
}

// Validate reports every problem with s at once, joined, each wrapping
// ErrInvalidScope.
func (s Scope) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidScope, fmt.Sprintf(format, args...)))
	}
	switch {
	case s.Thing == "":
		bad("thing id is empty (write consent.AllThings to mean every thing)")
	case len(s.Thing) > maxIDLength:
		bad("thing id longer than %d bytes", maxIDLength)
	}
	if len(s.Ops) == 0 {
		bad("no operations for thing %q", s.Thing)
	}
	if len(s.Names) > maxNames {
		bad("more than %d affordance names", maxNames)
	}
	seen := make(map[string]bool, len(s.Ops))
	for _, op := range s.Ops {
		info, ok := opTable[op]
		switch {
		case !ok:
			bad("unknown operation %q", op)
		case seen[op]:
			bad("operation %q listed twice", op)
		case len(s.Names) > 0 && !info.affordance:
			bad("operation %q cannot be restricted to affordance names", op)
		}
		seen[op] = true
	}
	names := make(map[string]bool, len(s.Names))
	for _, n := range s.Names {
		switch {
		case n == "":
			bad("empty affordance name")
		case len(n) > maxIDLength:
			bad("affordance name longer than %d bytes", maxIDLength)
		case names[n]:
			bad("affordance name %q listed twice", n)
		}
		names[n] = true
	}
	return errors.Join(errs...)
}

// validateScopes validates a grant's or token's scope list.
func validateScopes(scopes []Scope) error {
	if len(scopes) == 0 {
		return fmt.Errorf("%w: no scopes", ErrInvalidScope)
	}
	if len(scopes) > maxScopes {
		return fmt.Errorf("%w: more than %d scopes", ErrInvalidScope, maxScopes)
	}
	var errs []error
	for _, s := range scopes {
		errs = append(errs, s.Validate())
	}
	return errors.Join(errs...)
}

// cloneScopes deep-copies scopes so callers cannot mutate ledger state.
func cloneScopes(scopes []Scope) []Scope {
	out := make([]Scope, len(scopes))
	for i, s := range scopes {
		out[i] = Scope{Thing: s.Thing, Ops: slices.Clone(s.Ops), Names: slices.Clone(s.Names)}
	}
	return out
}

// FormatScopes writes scopes as an OAuth 2.0 scope string: space-separated
// tokens of the form
//
//	thing ":" op *("," op) [":" name *("," name)]
//
// where the thing id and names are percent-encoded (every byte outside
// A-Z a-z 0-9 - . _ ~ is escaped) and AllThings is written as a bare "*".
// For example "lamp:readproperty,writeproperty:on" or
// "urn%3Adev%3Alamp:readproperty". Ops are written in a fixed order, so
// equal scopes format equally.
func FormatScopes(scopes []Scope) string {
	var b strings.Builder
	for i, s := range scopes {
		if i > 0 {
			b.WriteByte(' ')
		}
		if s.Thing == AllThings {
			b.WriteString(AllThings)
		} else {
			escapeSegment(&b, s.Thing)
		}
		b.WriteByte(':')
		n := 0
		for _, op := range opOrder {
			if slices.Contains(s.Ops, op) {
				if n > 0 {
					b.WriteByte(',')
				}
				b.WriteString(op)
				n++
			}
		}
		for j, name := range s.Names {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			escapeSegment(&b, name)
		}
	}
	return b.String()
}

// ParseScopes parses an OAuth 2.0 scope string written by FormatScopes.
// It accepts nothing else: unknown ops, empty segments, malformed escapes,
// a thing-level op restricted to names and a wildcard anywhere but as the
// whole thing segment are all errors wrapping ErrInvalidScope.
func ParseScopes(s string) ([]Scope, error) {
	if len(s) > maxScopeBytes {
		return nil, fmt.Errorf("%w: scope string longer than %d bytes", ErrInvalidScope, maxScopeBytes)
	}
	fields := strings.Split(s, " ")
	if len(fields) > maxScopes {
		return nil, fmt.Errorf("%w: more than %d scopes", ErrInvalidScope, maxScopes)
	}
	out := make([]Scope, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			return nil, fmt.Errorf("%w: empty scope token", ErrInvalidScope)
		}
		parts := strings.Split(f, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("%w: scope token %q is not thing:ops[:names]", ErrInvalidScope, f)
		}
		var sc Scope
		if parts[0] == AllThings {
			sc.Thing = AllThings
		} else {
			id, err := unescapeSegment(parts[0])
			if err != nil {
				return nil, err
			}
			sc.Thing = id
		}
		sc.Ops = strings.Split(parts[1], ",")
		if len(parts) == 3 {
			for _, n := range strings.Split(parts[2], ",") {
				name, err := unescapeSegment(n)
				if err != nil {
					return nil, err
				}
				sc.Names = append(sc.Names, name)
			}
		}
		if err := sc.Validate(); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func escapeSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeSegment decodes a segment written by escapeSegment. Only the
// canonical form is accepted (uppercase hex, unreserved bytes never
// escaped), so each id has exactly one spelling.
func unescapeSegment(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty segment", ErrInvalidScope)
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", fmt.Errorf("%w: truncated escape in %q", ErrInvalidScope, s)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			v := hi<<4 | lo
			if !ok1 || !ok2 || unreserved(v) {
				return "", fmt.Errorf("%w: non-canonical escape in %q", ErrInvalidScope, s)
			}
			b = append(b, v)
			i += 2
		case unreserved(c):
			b = append(b, c)
		default:
			return "", fmt.Errorf("%w: byte %q must be escaped in %q", ErrInvalidScope, c, s)
		}
	}
	return string(b), nil
}

// scopeSet is a compiled, immutable list of scopes. It answers Permits
// without allocating and is safe for concurrent use.
type scopeSet struct {
	all    *thingRule
	things map[string]*thingRule
	text   string // canonical FormatScopes form
}

// thingRule holds what a scope set allows on one thing: ops on every
// affordance, and ops on named affordances only.
type thingRule struct {
	ops   uint32
	names map[string]uint32
}

var _ access.Scope = (*scopeSet)(nil)

func compileScopes(scopes []Scope) *scopeSet {
	set := &scopeSet{things: make(map[string]*thingRule), text: FormatScopes(scopes)}
	for _, s := range scopes {
		var r *thingRule
		if s.Thing == AllThings {
			if set.all == nil {
				set.all = &thingRule{}
			}
			r = set.all
		} else {
			r = set.things[s.Thing]
			if r == nil {
				r = &thingRule{}
				set.things[s.Thing] = r
			}
		}
		var mask uint32
		for _, op := range s.Ops {
			mask |= opTable[op].bit
		}
		if len(s.Names) == 0 {
			r.ops |= mask
			continue
		}
		if r.names == nil {
			r.names = make(map[string]uint32)
		}
		for _, n := range s.Names {
			r.names[n] |= mask
		}
	}
	return set
}

func (r *thingRule) permits(bit uint32, name string) bool {
	if r == nil {
		return false
	}
	if r.ops&bit != 0 {
		return true
	}
	return name != "" && r.names[name]&bit != 0
}

// Permits reports whether the scopes allow req.
func (s *scopeSet) Permits(req access.Request) bool {
	info, ok := opTable[req.Op]
	if !ok || req.ThingID == "" {
		return false
	}
	if info.affordance && req.Name == "" {
		return false
	}
	if !info.affordance && req.Name != "" {
		return false
	}
	return s.things[req.ThingID].permits(info.bit, req.Name) || s.all.permits(info.bit, req.Name)
}

// covers reports whether every access sc allows is also allowed by s:
// the test against scope escalation.
func (s *scopeSet) covers(sc Scope) bool {
	for _, op := range sc.Ops {
		bit := opTable[op].bit
		var rules []*thingRule
		if sc.Thing == AllThings {
			rules = []*thingRule{s.all}
		} else {
			rules = []*thingRule{s.things[sc.Thing], s.all}
		}
		ok := false
		if len(sc.Names) == 0 {
			for _, r := range rules {
				if r != nil && r.ops&bit != 0 {
					ok = true
				}
			}
		} else {
			ok = true
			for _, n := range sc.Names {
				if !rules[0].permits(bit, n) && (len(rules) < 2 || !rules[1].permits(bit, n)) {
					ok = false
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// coversAll reports whether s covers every scope in scopes.
func (s *scopeSet) coversAll(scopes []Scope) bool {
	for _, sc := range scopes {
		if !s.covers(sc) {
			return false
		}
	}
	return true
}
