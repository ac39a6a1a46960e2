package thing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// ErrInvalidValue is matched (with errors.Is) by every *ValueError: a
// value that does not satisfy its DataSchema.
var ErrInvalidValue = errors.New("thing: value does not match its schema")

// ValueError is one way a value fails its DataSchema. Path is a JSON
// pointer into the value ("" for the value itself). Validation reports
// every failure at once as an errors.Join of *ValueError.
type ValueError struct {
	Path string
	Msg  string
}

// Error implements error: where in the value, and what is wrong with it.
func (e *ValueError) Error() string {
	if e.Path == "" {
		return "thing: value " + e.Msg
	}
	return "thing: value at " + e.Path + " " + e.Msg
}

// Is reports whether target is ErrInvalidValue.
func (e *ValueError) Is(target error) bool { return target == ErrInvalidValue }

// A Schema is a compiled DataSchema: it checks JSON values (a property
// write, an action's input or output, an event's data) against the
// schema's constraints. Compile once and reuse: patterns are compiled and
// lookups prepared up front.
//
// A Schema is immutable and safe for concurrent use.
//
// Checked: type (integer means a number without a fractional part), const,
// enum (JSON equality: numbers by value), oneOf (exactly one), minimum,
// maximum, exclusiveMinimum, exclusiveMaximum, multipleOf (to within
// floating point rounding), minLength and maxLength (in code points),
// pattern (ECMA-262, see ErrPattern), items (one schema or a tuple),
// minItems, maxItems, properties and required. Not checked, as they are
// annotations: format, contentEncoding, contentMediaType, unit, readOnly
// and writeOnly (the caller knows whether it is reading or writing).
type Schema struct {
	src       *DataSchema
	types     kindSet
	hasConst  bool
	constV    any
	enum      []any
	oneOf     []*Schema
	bounds    uint8
	min, max  float64
	exMin     float64
	exMax     float64
	mult      float64
	minLen    int // -1: none
	maxLen    int
	minItems  int
	maxItems  int
	pattern   *regexp.Regexp
	items     *Schema
	tuple     []*Schema
	props     map[string]*Schema
	required  []string
	trivially bool // no constraints at all
}

type kindSet uint8

const (
	kNull kindSet = 1 << iota
	kBool
	kInteger // a number with no fractional part
	kNumber  // any number
	kString
	kArray
	kObject
)

const (
	hasMin uint8 = 1 << iota
	hasMax
	hasExMin
	hasExMax
	hasMult
)

var kindNames = map[string]kindSet{
	"null": kNull, "boolean": kBool, "integer": kInteger, "number": kNumber | kInteger,
	"string": kString, "array": kArray, "object": kObject,
}

// Compile prepares s for value validation. It returns an error wrapping
// ErrPattern for a pattern Go cannot check (see ErrPattern), and an error
// for a schema whose keywords cannot be satisfied as written (an unknown
// "type"). A nil s accepts every value.
func Compile(s *DataSchema) (*Schema, error) {
	return compileSchema(s, 0, false)
}

// MustCompile is like Compile but panics on error; for schemas written
// in the program.
func MustCompile(s *DataSchema) *Schema {
	c, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return c
}

func compileSchema(s *DataSchema, depth int, noPattern bool) (*Schema, error) {
	if depth > maxDepth {
		return nil, errors.New("thing: schema nesting too deep")
	}
	c := &Schema{src: s, minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	if s == nil {
		c.trivially = true
		return c, nil
	}
	if s.Type != "" {
		k, ok := kindNames[s.Type]
		if !ok {
			return nil, fmt.Errorf("thing: unknown schema type %q", s.Type)
		}
		c.types = k
	}
	c.hasConst = s.HasConst || s.Const != nil
	if c.hasConst {
		c.constV = normalize(s.Const)
	}
	if s.Enum != nil {
		c.enum = make([]any, len(s.Enum))
		for i, v := range s.Enum {
			c.enum[i] = normalize(v)
		}
	}
	setF := func(p *float64, dst *float64, bit uint8) {
		if p != nil {
			*dst = *p
			c.bounds |= bit
		}
	}
	setF(s.Minimum, &c.min, hasMin)
	setF(s.Maximum, &c.max, hasMax)
	setF(s.ExclusiveMinimum, &c.exMin, hasExMin)
	setF(s.ExclusiveMaximum, &c.exMax, hasExMax)
	setF(s.MultipleOf, &c.mult, hasMult)
	if c.bounds&hasMult != 0 && c.mult <= 0 {
		return nil, errors.New("thing: multipleOf must be greater than 0")
	}
	setI := func(p *int, dst *int) {
		if p != nil {
			*dst = *p
		}
	}
	setI(s.MinLength, &c.minLen)
	setI(s.MaxLength, &c.maxLen)
	setI(s.MinItems, &c.minItems)
	setI(s.MaxItems, &c.maxItems)
	if s.Pattern != "" && !noPattern {
		re, err := compilePattern(s.Pattern)
		if err != nil {
			return nil, err
		}
		c.pattern = re
	}
	var err error
	for _, o := range s.OneOf {
		oc, err := compileSchema(o, depth+1, noPattern)
		if err != nil {
			return nil, err
		}
		c.oneOf = append(c.oneOf, oc)
	}
	if s.Items != nil {
		if c.items, err = compileSchema(s.Items, depth+1, noPattern); err != nil {
			return nil, err
		}
	}
	for _, t := range s.TupleItems {
		tc, err := compileSchema(t, depth+1, noPattern)
		if err != nil {
			return nil, err
		}
		c.tuple = append(c.tuple, tc)
	}
	if len(s.Properties) > 0 {
		c.props = make(map[string]*Schema, len(s.Properties))
		for k, p := range s.Properties {
			if c.props[k], err = compileSchema(p, depth+1, noPattern); err != nil {
				return nil, err
			}
		}
	}
	c.required = s.Required
	c.trivially = c.types == 0 && !c.hasConst && c.enum == nil && c.oneOf == nil && c.bounds == 0 &&
		c.minLen < 0 && c.maxLen < 0 && c.minItems < 0 && c.maxItems < 0 && c.pattern == nil &&
		c.items == nil && c.tuple == nil && c.props == nil && len(c.required) == 0
	return c, nil
}

// DataSchema returns the schema s was compiled from.
func (s *Schema) DataSchema() *DataSchema { return s.src }

// normalize converts Go numbers to float64 so constants compare as JSON
// values do.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

// toFloat converts any Go number (and json.Number) to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Validate checks a Go value against the schema. Values are what
// encoding/json decodes into an any (nil, bool, float64, string, []any,
// map[string]any), plus the other Go integer and float types, json.Number
// and json.RawMessage. It returns nil or an errors.Join of *ValueError.
func (s *Schema) Validate(v any) error {
	if s.trivially {
		if raw, ok := v.(json.RawMessage); ok {
			return s.ValidateJSON(raw)
		}
		return nil
	}
	var errs []error
	s.check(v, nil, &errs)
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

type valuePath struct {
	parent *valuePath
	key    string
	index  int
}

func (p *valuePath) String() string {
	if p == nil {
		return ""
	}
	var segs []*valuePath
	for q := p; q != nil; q = q.parent {
		segs = append(segs, q)
	}
	var b []byte
	for i := len(segs) - 1; i >= 0; i-- {
		b = append(b, '/')
		if segs[i].index >= 0 {
			b = strconv.AppendInt(b, int64(segs[i].index), 10)
		} else {
			b = appendPointerToken(b, []byte(segs[i].key))
		}
	}
	return string(b)
}

func addErr(errs *[]error, p *valuePath, msg string) {
	*errs = append(*errs, &ValueError{Path: p.String(), Msg: msg})
}

func kindOf(v any) kindSet {
	switch x := v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case string:
		return kString
	case []any:
		return kArray
	case map[string]any:
		return kObject
	default:
		if f, ok := toFloat(x); ok {
			if f == math.Trunc(f) && !math.IsInf(f, 0) {
				return kInteger
			}
			return kNumber
		}
	}
	return 0
}

func (k kindSet) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "a boolean"
	case kInteger:
		return "an integer"
	case kNumber | kInteger:
		return "a number"
	case kNumber:
		return "a number"
	case kString:
		return "a string"
	case kArray:
		return "an array"
	case kObject:
		return "an object"
	}
	return "of another type"
}

func (s *Schema) check(v any, p *valuePath, errs *[]error) {
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		d := newDecoder(raw)
		if err := d.run(func() { x = d.value() }); err != nil {
			addErr(errs, p, "is not valid JSON: "+err.Error())
			return
		}
		if len(d.errs) > 0 {
			addErr(errs, p, "has duplicate member names")
			return
		}
		v = x
	}
	k := kindOf(v)
	if k == 0 {
		addErr(errs, p, fmt.Sprintf("has unsupported Go type %T", v))
		return
	}
	if s.types != 0 && s.types&k == 0 {
		addErr(errs, p, "must be "+s.types.String())
		return
	}
	if s.hasConst && !jsonEqual(v, s.constV) {
		addErr(errs, p, "must equal the schema's const")
	}
	if s.enum != nil && !s.inEnum(v) {
		addErr(errs, p, "must be one of the schema's enum values")
	}
	if s.oneOf != nil {
		s.checkOneOf(v, p, errs)
	}
	switch k {
	case kInteger, kNumber:
		f, _ := toFloat(v)
		s.checkNumber(f, p, errs)
	case kString:
		s.checkString(v.(string), p, errs)
	case kArray:
		a := v.([]any)
		s.checkCount(len(a), p, errs)
		for i, e := range a {
			sub := s.itemSchema(i)
			if sub == nil || sub.trivially {
				continue
			}
			sub.check(e, &valuePath{parent: p, index: i}, errs)
		}
	case kObject:
		m := v.(map[string]any)
		for _, r := range s.required {
			if _, ok := m[r]; !ok {
				addErr(errs, p, "lacks required member "+strconv.Quote(r))
			}
		}
		if s.props != nil {
			for _, name := range sortedKeys(m) {
				if sub := s.props[name]; sub != nil && !sub.trivially {
					sub.check(m[name], &valuePath{parent: p, key: name, index: -1}, errs)
				}
			}
		}
	}
}

func (s *Schema) itemSchema(i int) *Schema {
	if s.tuple != nil {
		if i < len(s.tuple) {
			return s.tuple[i]
		}
		return nil
	}
	return s.items
}

func (s *Schema) inEnum(v any) bool {
	for _, e := range s.enum {
		if jsonEqual(v, e) {
			return true
		}
	}
	return false
}

func (s *Schema) checkOneOf(v any, p *valuePath, errs *[]error) {
	n := 0
	for _, o := range s.oneOf {
		var sub []error
		o.check(v, p, &sub)
		if len(sub) == 0 {
			n++
		}
	}
	switch {
	case n == 0:
		addErr(errs, p, "matches none of the schema's oneOf alternatives")
	case n > 1:
		addErr(errs, p, "matches more than one of the schema's oneOf alternatives")
	}
}

func (s *Schema) checkNumber(f float64, p *valuePath, errs *[]error) {
	if s.bounds == 0 {
		return
	}
	if s.bounds&hasMin != 0 && f < s.min {
		addErr(errs, p, "must be at least "+formatNum(s.min))
	}
	if s.bounds&hasMax != 0 && f > s.max {
		addErr(errs, p, "must be at most "+formatNum(s.max))
	}
	if s.bounds&hasExMin != 0 && f <= s.exMin {
		addErr(errs, p, "must be greater than "+formatNum(s.exMin))
	}
	if s.bounds&hasExMax != 0 && f >= s.exMax {
		addErr(errs, p, "must be less than "+formatNum(s.exMax))
	}
	if s.bounds&hasMult != 0 && !isMultiple(f, s.mult) {
		addErr(errs, p, "must be a multiple of "+formatNum(s.mult))
	}
}

// isMultiple reports whether f is an integer multiple of m, allowing for
// binary floating point (0.3 is a multiple of 0.1).
func isMultiple(f, m float64) bool {
	q := f / m
	if math.IsInf(q, 0) {
		return false
	}
	r := math.Round(q)
	return math.Abs(q-r) <= 1e-9*math.Max(1, math.Abs(q))
}

func formatNum(f float64) string { return string(appendFloat(nil, f)) }

func (s *Schema) checkString(str string, p *valuePath, errs *[]error) {
	if s.minLen >= 0 || s.maxLen >= 0 {
		n := utf8.RuneCountInString(str)
		if s.minLen >= 0 && n < s.minLen {
			addErr(errs, p, "must be at least "+strconv.Itoa(s.minLen)+" characters long")
		}
		if s.maxLen >= 0 && n > s.maxLen {
			addErr(errs, p, "must be at most "+strconv.Itoa(s.maxLen)+" characters long")
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(str) {
		addErr(errs, p, "must match the pattern "+strconv.Quote(s.src.Pattern))
	}
}

func (s *Schema) checkCount(n int, p *valuePath, errs *[]error) {
	if s.minItems >= 0 && n < s.minItems {
		addErr(errs, p, "must have at least "+strconv.Itoa(s.minItems)+" items")
	}
	if s.maxItems >= 0 && n > s.maxItems {
		addErr(errs, p, "must have at most "+strconv.Itoa(s.maxItems)+" items")
	}
}

// ValidateJSON checks raw JSON (a request body, say) against the schema
// without decoding it into Go values first. It rejects malformed JSON and
// duplicate member names. A scalar that passes costs no allocations.
func (s *Schema) ValidateJSON(raw []byte) error {
	// Fast path: a scalar needs no decoder.
	if ok, err := s.scalarJSON(raw); ok {
		return err
	}
	var errs []error
	d := newDecoder(raw)
	if err := d.run(func() { s.walk(d, &errs) }); err != nil {
		return &ValueError{Msg: "is not valid JSON: " + err.Error()}
	}
	for _, e := range d.errs { // duplicate member names
		ve := e.(*ValidationError)
		errs = append(errs, &ValueError{Path: ve.Path, Msg: "has a " + ve.Msg})
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// scalarJSON validates a JSON scalar without allocating when it is valid.
// handled is false when raw is not a simple scalar.
func (s *Schema) scalarJSON(raw []byte) (handled bool, err error) {
	b := trimSpace(raw)
	if len(b) == 0 {
		return false, nil
	}
	switch c := b[0]; {
	case c == 't' || c == 'f' || c == 'n':
		var v any
		switch string(b) {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		default:
			return false, nil
		}
		return true, s.Validate(v)
	case c == '-' || ('0' <= c && c <= '9'):
		if !isJSONNumber(b) {
			return false, nil
		}
		f := parseNumber(b)
		return true, s.scalarNumber(f)
	case c == '"':
		if len(b) < 2 || b[len(b)-1] != '"' {
			return false, nil
		}
		inner := b[1 : len(b)-1]
		for _, ch := range inner {
			if ch == '\\' || ch == '"' || ch < 0x20 {
				return false, nil
			}
		}
		if !utf8.Valid(inner) {
			return false, nil
		}
		return true, s.scalarString(inner)
	}
	return false, nil
}

func isJSONNumber(b []byte) bool {
	d := decoder{data: b}
	ok := true
	func() {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		d.numberSpan()
	}()
	return ok && d.pos == len(b)
}

// scalarNumber checks a number without boxing it when it passes.
func (s *Schema) scalarNumber(f float64) error {
	k := kNumber
	if f == math.Trunc(f) {
		k = kInteger
	}
	fast := s.types == 0 || s.types&k != 0
	if fast && !s.hasConst && s.enum == nil && s.oneOf == nil {
		if s.bounds == 0 {
			return nil
		}
		if (s.bounds&hasMin == 0 || f >= s.min) && (s.bounds&hasMax == 0 || f <= s.max) &&
			(s.bounds&hasExMin == 0 || f > s.exMin) && (s.bounds&hasExMax == 0 || f < s.exMax) &&
			(s.bounds&hasMult == 0 || isMultiple(f, s.mult)) {
			return nil
		}
	}
	return s.Validate(f)
}

func (s *Schema) scalarString(b []byte) error {
	if (s.types == 0 || s.types&kString != 0) && !s.hasConst && s.oneOf == nil {
		ok := true
		if s.enum != nil {
			ok = false
			for _, e := range s.enum {
				if es, isStr := e.(string); isStr && es == string(b) {
					ok = true
					break
				}
			}
		}
		if ok && (s.minLen >= 0 || s.maxLen >= 0) {
			n := utf8.RuneCount(b)
			ok = (s.minLen < 0 || n >= s.minLen) && (s.maxLen < 0 || n <= s.maxLen)
		}
		if ok && s.pattern != nil {
			ok = s.pattern.Match(b)
		}
		if ok {
			return nil
		}
	}
	return s.Validate(string(b))
}

// walk validates the value at the decoder's position, streaming.
func (s *Schema) walk(d *decoder, errs *[]error) {
	if s == nil || s.trivially {
		d.skip()
		return
	}
	// Composite constraints that need the whole value: decode it.
	if s.hasConst || s.enum != nil || s.oneOf != nil {
		if c := d.peek(); c == '{' || c == '[' {
			ptr := d.pointer()
			v := d.value()
			start := len(*errs)
			s.check(v, nil, errs)
			prefixPaths((*errs)[start:], ptr)
			return
		}
	}
	switch c := d.peek(); {
	case c == '{':
		if s.types != 0 && s.types&kObject == 0 {
			*errs = append(*errs, &ValueError{Path: d.pointer(), Msg: "must be " + s.types.String()})
			d.skip()
			return
		}
		d.pos++
		d.enter()
		var have []bool
		if len(s.required) > 0 {
			have = make([]bool, len(s.required))
		}
		for first := true; d.next(&first, '}'); {
			k := d.key()
			for i, r := range s.required {
				if r == string(k) {
					have[i] = true
				}
			}
			d.pushKey()
			sub := s.props[string(k)]
			if sub == nil {
				d.skip()
			} else {
				sub.walk(d, errs)
			}
			d.pop()
		}
		for i, r := range s.required {
			if !have[i] {
				*errs = append(*errs, &ValueError{Path: d.pointer(), Msg: "lacks required member " + strconv.Quote(r)})
			}
		}
	case c == '[':
		if s.types != 0 && s.types&kArray == 0 {
			*errs = append(*errs, &ValueError{Path: d.pointer(), Msg: "must be " + s.types.String()})
			d.skip()
			return
		}
		d.pos++
		d.enter()
		n := 0
		for first := true; d.next(&first, ']'); n++ {
			d.pushIndex(n)
			if sub := s.itemSchema(n); sub != nil {
				sub.walk(d, errs)
			} else {
				d.skip()
			}
			d.pop()
		}
		var tmp []error
		s.checkCount(n, nil, &tmp)
		for _, e := range tmp {
			e.(*ValueError).Path = d.pointer()
			*errs = append(*errs, e)
		}
	default:
		start := len(*errs)
		var v any
		switch c {
		case '"':
			b, _ := d.rawString()
			v = string(b)
		case 't', 'f', 'n':
			switch d.literal() {
			case 't':
				v = true
			case 'f':
				v = false
			}
		default:
			v = parseNumber(d.numberSpan())
		}
		s.check(v, nil, errs)
		prefixPaths((*errs)[start:], d.pointer())
	}
}

func prefixPaths(errs []error, ptr string) {
	if ptr == "" {
		return
	}
	for _, e := range errs {
		ve := e.(*ValueError)
		ve.Path = ptr + ve.Path
	}
}
