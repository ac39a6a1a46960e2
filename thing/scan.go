package thing

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the JSON scanner shared by every decoder in the package.
// It reads straight from the input bytes into the model types, without
// building generic maps, and it reports problems the way the validator
// does: a bad member type or a duplicate member name becomes a
// *ValidationError at its JSON pointer and decoding carries on, so one pass
// reports every problem. Only malformed JSON stops it (a *SyntaxError).
//
// Why hand-written: a bare token pass with json/v2's jsontext.Decoder
// (github.com/go-json-experiment/json, or encoding/json/jsontext under
// GOEXPERIMENT=jsonv2) over the typical TD of the benchmarks, building
// nothing, takes two thirds of the time this decoder needs to decode and
// validate the whole model (BenchmarkJSONv2Tokens beside
// BenchmarkParseTypical), and building the model from its tokens would add
// the model's allocations on top. BenchmarkScanTypical is this scanner's own
// token pass, for comparison.

// maxDepth bounds the nesting of JSON values, so hostile input cannot
// exhaust the stack.
const maxDepth = 512

// syntaxPanic carries a syntax error from deep in the scanner to the entry
// point, which recovers it. It never escapes the package.
type syntaxPanic struct{ err *SyntaxError }

// seg is one step of a JSON pointer: a member name, as the offset of its
// opening quote in the input (the name is decoded again only to report an
// error), or ^i for array index i. It holds no pointers, so keeping the
// path costs the garbage collector nothing, and one word, so keeping it
// costs the decoder little.
type seg int

type boxedString struct {
	s string
	v any // s as an interface value
}

type decoder struct {
	data    []byte
	pos     int
	depth   int
	path    []seg
	errs    []error
	scratch []byte   // unescaped string (valid until the next string read)
	keys    [][]byte // member names of the objects being skipped (duplicate detection)

	// Strings the model keeps are substrings of one copy of the input
	// (src, made on first use), and raw extension values are copied into
	// rawBuf, a few blocks shared by all of them: decoding a document costs
	// a handful of allocations for all its text rather than one per
	// string, and nothing aliases the caller's input. Member names that
	// only select a term are never converted.
	src          string
	rawBuf       []byte
	lastS, lastE int  // span of the last string read (lastE only when not escaped)
	lastEsc      bool // the last string read was escaped (its bytes are in scratch)

	// Slabs and scratch space for the model's small values.
	propSlab   slab[Property]
	schemaSlab slab[DataSchema]
	formSlab   slab[Form]
	strSlab    slab[string]
	floatSlab  slab[float64]
	intSlab    slab[int]
	anySlab    slab[any]
	boxed      [8]boxedString // recent strings decoded by value (see boxString)
	nextBox    int
	tmpAny     []any // elements of the arrays being decoded by value, stacked

	// mode
	model  bool // Thing Model: {{placeholders}} stand in for typed values
	strict bool // report required members that are absent (Parse)
}

func newDecoder(data []byte) *decoder {
	// A UTF-8 byte order mark is tolerated on input.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		data = data[3:]
	}
	d := &decoder{data: data, path: make([]seg, 0, 16)}
	// Block sizes: about 3 KiB each, chosen so that a block plus the
	// 8-byte header the allocator adds to big pointerful objects fills a
	// size class whose spans hold several blocks: 7 Properties of 472
	// bytes and 17 Forms of 200 fill the 3456-byte class, 7 DataSchemas of
	// 432 the 3072-byte one. (8 DataSchemas, 3464 bytes with the header,
	// would take a 4096-byte slot, two to a span.)
	d.propSlab.max = 7
	d.schemaSlab.max = 7
	d.formSlab.max = 17
	// Small values: one block for a typical document (which has about
	// one string list entry per 130 bytes and one number per 300).
	d.strSlab.max, d.strSlab.first = 256, len(data)/128
	d.floatSlab.first = len(data) / 256
	return d
}

// run calls fn, turning a syntax panic into an error, and checks that only
// white space follows the value.
func (d *decoder) run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sp, ok := r.(syntaxPanic)
			if !ok {
				panic(r)
			}
			err = sp.err
		}
	}()
	fn()
	d.ws()
	if d.pos < len(d.data) {
		d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " after top-level value")
	}
	return nil
}

func (d *decoder) syntax(msg string) {
	panic(syntaxPanic{&SyntaxError{Offset: int64(d.pos), Msg: msg}})
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// pointer renders the current path as a JSON pointer (RFC 6901).
func (d *decoder) pointer() string {
	if len(d.path) == 0 {
		return ""
	}
	b := make([]byte, 0, 64)
	for _, s := range d.path {
		b = append(b, '/')
		if s < 0 {
			b = strconv.AppendInt(b, int64(^s), 10)
			continue
		}
		// The name was read once already, so this cannot fail.
		k := decoder{data: d.data, pos: int(s)}
		name, _ := k.rawString()
		b = appendPointerToken(b, name)
	}
	return string(b)
}

func appendPointerToken(b []byte, tok []byte) []byte {
	for _, c := range tok {
		switch c {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, c)
		}
	}
	return b
}

// pushKey adds the member name just read by key to the path. No other
// string may be read in between.
func (d *decoder) pushKey() { d.path = append(d.path, seg(d.lastS-1)) }

func (d *decoder) pushIndex(i int) { d.path = append(d.path, ^seg(i)) }

func (d *decoder) pop() { d.path = d.path[:len(d.path)-1] }

// errorf records a validation error at the current path.
func (d *decoder) fail(msg string) {
	d.errs = append(d.errs, &ValidationError{Path: d.pointer(), Msg: msg})
}

// failDup records a duplicate member name at the current path (a rule
// beyond the JSON Schema, which cannot see duplicates).
func (d *decoder) failDup() {
	d.errs = append(d.errs, &ValidationError{Path: d.pointer(), Msg: "duplicate member name", err: ErrDuplicateMember, strict: true})
}

// typeErrorStrict is typeError for a member the official JSON Schema
// leaves untyped in this position.
func (d *decoder) typeErrorStrict(want string) {
	n := len(d.errs)
	d.typeError(want)
	for _, e := range d.errs[n:] {
		e.(*ValidationError).strict = true
	}
}

// failMember records a validation error at the member name of the current
// object (the path is one level below).
func (d *decoder) failMember(name, msg string) {
	p := d.pointer()
	b := make([]byte, 0, len(p)+1+len(name))
	b = append(b, p...)
	b = append(b, '/')
	b = appendPointerToken(b, []byte(name))
	d.errs = append(d.errs, &ValidationError{Path: string(b), Msg: msg})
}

// typeError records that the value at the current path has the wrong JSON
// type and skips it.
func (d *decoder) typeError(want string) {
	got := d.kind()
	d.fail("must be " + want + ", not " + got)
	d.skip()
}

// kind names the JSON type of the next value.
func (d *decoder) kind() string {
	switch d.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func (d *decoder) ws() {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return
	}
	d.skipSpace()
}

// space skips one space, the usual separator after a colon or a comma,
// so that the next peek takes its fast path.
func (d *decoder) space() {
	if d.pos < len(d.data) && d.data[d.pos] == ' ' {
		d.pos++
	}
}

func (d *decoder) skipSpace() {
	data, i := d.data, d.pos
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	d.pos = i
}

// peek skips white space and returns the next byte without consuming it.
func (d *decoder) peek() byte {
	if c, ok := d.peekFast(); ok {
		return c
	}
	return d.peekSlow()
}

// peekFast returns the next byte if it is not white space. The hottest
// paths call it before peekSlow themselves: peek is too big to inline.
func (d *decoder) peekFast() (byte, bool) {
	if p := uint(d.pos); p < uint(len(d.data)) {
		if c := d.data[p]; c > ' ' {
			return c, true
		}
	}
	return 0, false
}

func (d *decoder) peekSlow() byte {
	d.skipSpace()
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of JSON input")
	}
	return d.data[d.pos]
}

// openObject consumes '{' and reports true if the next value is an object;
// otherwise it consumes nothing.
func (d *decoder) openObject() bool {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if c != '{' {
		return false
	}
	d.pos++
	d.enter()
	return true
}

func (d *decoder) openArray() bool {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if c != '[' {
		return false
	}
	d.pos++
	d.enter()
	return true
}

func (d *decoder) enter() {
	d.depth++
	if d.depth > maxDepth {
		d.syntax("exceeded max depth")
	}
}

// next advances to the next member or element of the object or array
// being read; it returns false, having consumed the closing bracket, when
// there is none. first must start true.
func (d *decoder) next(first *bool, end byte) bool {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if *first {
		*first = false
		if c == end {
			d.pos++
			d.depth--
			return false
		}
		return true
	}
	switch c {
	case end:
		d.pos++
		d.depth--
		return false
	case ',':
		// A closing bracket after the comma is caught by whatever reads
		// the next member or element: it is not a key, nor a value.
		d.pos++
		d.space()
		return true
	}
	if end == '}' {
		d.syntax("invalid character " + quoteChar(c) + " after object member")
	}
	d.syntax("invalid character " + quoteChar(c) + " after array element")
	return false
}

// key reads a member name and the colon after it. The name is valid
// until the next string read (it is a slice of the input, or of scratch
// when it has escapes): switch on string(k), look it up in maps with
// m[string(k)], and keep it with d.keep.
func (d *decoder) key() []byte {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if c != '"' {
		d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " looking for beginning of object key string")
	}
	k, _ := d.rawString()
	if d.pos < len(d.data) && d.data[d.pos] == ':' {
		d.pos++
		d.space()
		return k
	}
	if d.peek() != ':' {
		d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " after object key")
	}
	d.pos++
	return k
}

// keepKey returns the member name k just read by key as a string the
// model may keep: a substring of the input's string copy, unless it had
// escapes. Call it before reading the member's value.
func (d *decoder) keepKey(k []byte) string { return d.lastStr(k) }

// source returns the input as a string, converting it once. One copy of
// the whole input costs less than copying the strings the model keeps one
// by one, and nothing then aliases the caller's input.
func (d *decoder) source() string {
	if d.src == "" {
		d.src = string(d.data)
	}
	return d.src
}

// lastStr returns the last string read (b) as a string the model may
// keep, sharing the input's copy when it had no escapes.
func (d *decoder) lastStr(b []byte) string {
	if d.lastEsc || len(b) == 0 {
		return string(b)
	}
	return d.source()[d.lastS:d.lastE]
}

// rawString reads a JSON string at d.pos (which must be '"') and returns
// its unescaped bytes. escaped reports whether the bytes live in d.scratch.
func (d *decoder) rawString() (s []byte, escaped bool) {
	start := d.pos + 1
	data := d.data
	if start <= len(data) {
		// Fast path: plain ASCII up to the closing quote, eight bytes at a
		// time, then byte by byte near the end of the input.
		i := start
		for ; i+8 <= len(data); i += 8 {
			if m := special8(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				if data[i] == '"' {
					d.pos = i + 1
					d.lastS, d.lastE, d.lastEsc = start, i, false
					return data[start:i], false
				}
				return d.rawStringSlow(start, i)
			}
		}
		start0 := i
		for j, c := range data[start0:] {
			if plainASCII[c] {
				continue
			}
			if c == '"' {
				end := start0 + j
				d.pos = end + 1
				d.lastS, d.lastE, d.lastEsc = start, end, false
				return data[start:end], false
			}
			return d.rawStringSlow(start, start0+j)
		}
	}
	d.pos = len(data)
	d.syntax("unexpected end of JSON input")
	return nil, false
}

// rawStringSlow continues rawString at i, where the string has an escape,
// a control character or a non-ASCII byte.
func (d *decoder) rawStringSlow(start, i int) (s []byte, escaped bool) {
	data := d.data
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.lastS, d.lastE, d.lastEsc = start, i, false
			return data[start:i], false
		case c == '\\':
			d.lastS, d.lastEsc = start, true
			return d.escapedString(start, i), true
		case c < 0x20:
			d.pos = i
			d.syntax("invalid control character in string literal")
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				d.pos = i
				d.syntax("invalid UTF-8 in string")
			}
			i += n
		}
	}
	d.pos = len(data)
	d.syntax("unexpected end of JSON input")
	return nil, false
}

// special8 returns a mask with the high bit set in the lowest byte of x
// that needs attention in a string (a quote, a backslash, a control
// character or a non-ASCII byte), and possibly in higher ones; zero if
// all eight bytes are plain ASCII. Borrows only run upwards, so the lowest
// flagged byte is exact.
func special8(x uint64) uint64 {
	const (
		lo     = 0x0101010101010101
		hi     = 0x8080808080808080
		quote  = 0x2222222222222222
		bslash = 0x5c5c5c5c5c5c5c5c
	)
	q := x ^ quote
	b := x ^ bslash
	return ((x & hi) | ((x - 0x20*lo) &^ x) | ((q - lo) &^ q) | ((b - lo) &^ b)) & hi
}

// plainASCII marks the bytes a JSON string can contain without special
// handling: printable ASCII except '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) escapedString(start, i int) []byte {
	data := d.data
	b := append(d.scratch[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = b
			return b
		case c == '\\':
			if i+1 >= len(data) {
				d.pos = len(data)
				d.syntax("unexpected end of JSON input")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
				i += 2
			case 'b':
				b = append(b, '\b')
				i += 2
			case 'f':
				b = append(b, '\f')
				i += 2
			case 'n':
				b = append(b, '\n')
				i += 2
			case 'r':
				b = append(b, '\r')
				i += 2
			case 't':
				b = append(b, '\t')
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					d.pos = i
					d.syntax("invalid escape sequence in string literal")
				}
				i += 6
				if utf16IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						r2, ok2 = hex4(data, i+2)
					}
					if dec := utf16Decode(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				d.pos = i
				d.syntax("invalid escape sequence in string literal")
			}
		case c < 0x20:
			d.pos = i
			d.syntax("invalid control character in string literal")
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				d.pos = i
				d.syntax("invalid UTF-8 in string")
			}
			b = append(b, data[i:i+n]...)
			i += n
		}
	}
	d.pos = len(data)
	d.syntax("unexpected end of JSON input")
	return nil
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

func utf16Decode(r1, r2 rune) rune {
	if 0xd800 <= r1 && r1 < 0xdc00 && 0xdc00 <= r2 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// numberSpan scans a JSON number at d.pos and returns its text.
func (d *decoder) numberSpan() []byte {
	data := d.data
	start := d.pos
	i := start
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		if i < len(data) {
			d.syntax("invalid character " + quoteChar(data[i]) + " looking for beginning of value")
		}
		d.syntax("unexpected end of JSON input")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			d.pos = i
			d.syntax("invalid number: digit expected after decimal point")
		}
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			d.pos = i
			d.syntax("invalid number: digit expected in exponent")
		}
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return data[start:i]
}

// parseNumber converts a scanned JSON number to float64. Short integers
// take a fast path that does not allocate.
func parseNumber(b []byte) float64 {
	neg := false
	s := b
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) <= 15 {
		var n int64
		ok := true
		for _, c := range s {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				if n == 0 {
					return negZero()
				}
				return -float64(n)
			}
			return float64(n)
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// Out of range: ParseFloat returns ±Inf, which JSON cannot carry
		// back out; clamp to the largest finite value.
		if f > 0 {
			return maxFloat
		}
		if f < 0 {
			return -maxFloat
		}
	}
	return f
}

const maxFloat = 1.7976931348623157e308

func negZero() float64 {
	var z float64
	return -z
}

// literal consumes one of true, false or null.
func (d *decoder) literal() byte {
	c := d.peek()
	var want string
	switch c {
	case 't':
		want = "true"
	case 'f':
		want = "false"
	case 'n':
		want = "null"
	default:
		d.syntax("invalid character " + quoteChar(c) + " looking for beginning of value")
	}
	if len(d.data)-d.pos < len(want) || string(d.data[d.pos:d.pos+len(want)]) != want {
		d.syntax("invalid literal")
	}
	d.pos += len(want)
	return c
}

// skip consumes one value, checking its syntax and rejecting duplicate
// member names inside it.
func (d *decoder) skip() {
	switch d.peek() {
	case '{':
		d.pos++
		d.enter()
		// Small objects check names against a slice; big ones switch to
		// a set, so hostile input cannot make this quadratic.
		base := len(d.keys)
		var set map[string]struct{}
		for first := true; d.next(&first, '}'); {
			k := d.key()
			var dup bool
			if set != nil {
				_, dup = set[string(k)]
				if !dup {
					set[string(k)] = struct{}{}
				}
			} else {
				dup = d.seenKey(base, k)
				if !dup {
					if d.lastEsc {
						k = bytes.Clone(k) // scratch is reused
					}
					d.keys = append(d.keys, k)
					if len(d.keys)-base > 16 {
						set = make(map[string]struct{}, 64)
						for _, x := range d.keys[base:] {
							set[string(x)] = struct{}{}
						}
					}
				}
			}
			d.pushKey()
			if dup {
				d.failDup()
			}
			d.skip()
			d.pop()
		}
		clear(d.keys[base:])
		d.keys = d.keys[:base]
	case '[':
		d.pos++
		d.enter()
		i := 0
		for first := true; d.next(&first, ']'); i++ {
			d.pushIndex(i)
			d.skip()
			d.pop()
		}
	case '"':
		d.rawString()
	case 't', 'f', 'n':
		d.literal()
	default:
		d.numberSpan()
	}
}

func (d *decoder) seenKey(base int, k []byte) bool {
	for _, s := range d.keys[base:] {
		if bytes.Equal(s, k) {
			return true
		}
	}
	return false
}

// raw consumes one value and returns a copy of its bytes. The copies
// share blocks; each has capacity equal to its length, so appending to one
// reallocates rather than overwriting a neighbour.
func (d *decoder) raw() json.RawMessage {
	d.ws()
	start := d.pos
	d.skip()
	n := d.pos - start
	if cap(d.rawBuf)-len(d.rawBuf) < n {
		d.rawBuf = make([]byte, 0, max(n, min(2*cap(d.rawBuf), 4096), 256))
	}
	i := len(d.rawBuf)
	d.rawBuf = append(d.rawBuf, d.data[start:d.pos]...)
	return json.RawMessage(d.rawBuf[i : i+n : i+n])
}

// str reads a string value, recording a type error for anything else.
func (d *decoder) str() string {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if c != '"' {
		d.typeError("a string")
		return ""
	}
	b, _ := d.rawString()
	return d.lastStr(b)
}

// text reads a string value; it returns ok false (after recording a type
// error) for anything else.
func (d *decoder) text() (string, bool) {
	c, ok := d.peekFast()
	if !ok {
		c = d.peekSlow()
	}
	if c != '"' {
		d.typeError("a string")
		return "", false
	}
	b, _ := d.rawString()
	return d.lastStr(b), true
}

// placeholder reports whether the next value is a Thing Model placeholder
// string (only in model mode), consuming it if so.
func (d *decoder) placeholder() bool {
	if !d.model || d.peek() != '"' {
		return false
	}
	save := d.pos
	b, _ := d.rawString()
	if bytes.Contains(b, []byte("{{")) && isPlaceholder(string(b)) {
		return true
	}
	d.pos = save
	return false
}

func (d *decoder) boolean() bool {
	switch d.peek() {
	case 't', 'f':
		return d.literal() == 't'
	}
	if d.placeholder() {
		return false
	}
	d.typeError("a boolean")
	return false
}

func (d *decoder) optBool() *bool {
	switch d.peek() {
	case 't', 'f':
		v := d.literal() == 't'
		return &v
	}
	if d.placeholder() {
		return nil
	}
	d.typeError("a boolean")
	return nil
}

func (d *decoder) isNumberStart() bool {
	c := d.peek()
	return c == '-' || ('0' <= c && c <= '9')
}

func (d *decoder) number() *float64 {
	if !d.isNumberStart() {
		if d.placeholder() {
			return nil
		}
		d.typeError("a number")
		return nil
	}
	f := d.floatSlab.new()
	*f = parseNumber(d.numberSpan())
	return f
}

// integer reads a non-negative integer (JSON Schema's integer: a number
// with no fractional part).
func (d *decoder) count() *int {
	if !d.isNumberStart() {
		if d.placeholder() {
			return nil
		}
		d.typeError("an integer")
		return nil
	}
	f := parseNumber(d.numberSpan())
	if f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		d.errs = append(d.errs, &ValidationError{Path: d.pointer(), Msg: "must be an integer that fits in 53 bits", strict: f == math.Trunc(f)})
		return nil
	}
	n := d.intSlab.new()
	*n = int(f)
	return n
}

// strs reads a string-or-array-of-strings term.
func (d *decoder) strs(s *Strings) {
	switch d.peek() {
	case '"':
		b, _ := d.rawString()
		start := len(d.strSlab.buf)
		*d.strSlab.extend(&start) = d.lastStr(b)
		s.Values = d.strSlab.run(start)
		s.Array = false
	case '[':
		s.Array = true
		s.Values = d.stringList()
	default:
		d.typeError("a string or an array of strings")
	}
}

// stringList reads an array of strings.
func (d *decoder) stringList() []string {
	if !d.openArray() {
		d.typeError("an array of strings")
		return nil
	}
	// String lists do not nest: the list is built in place in the slab.
	start := len(d.strSlab.buf)
	i := 0
	for first := true; d.next(&first, ']'); i++ {
		d.pushIndex(i)
		if v, ok := d.text(); ok {
			*d.strSlab.extend(&start) = v
		}
		d.pop()
	}
	return d.strSlab.run(start)
}

func (d *decoder) multiLanguage() MultiLanguage {
	if !d.openObject() {
		d.typeError("an object of language-tagged strings")
		return nil
	}
	m := make(MultiLanguage, 4)
	for first := true; d.next(&first, '}'); {
		k := d.key()
		d.pushKey()
		if d.model && isPlaceholder(string(k)) {
			d.fail("a member name must not be a placeholder")
		}
		if _, dup := m[string(k)]; dup {
			d.failDup()
			d.skip()
		} else if name := d.keepKey(k); true {
			if v, ok := d.text(); ok {
				m[name] = v
			}
		}
		d.pop()
	}
	return m
}

// extension stores an unknown member verbatim. k must be the last string
// read (see keepKey).
func (d *decoder) extension(m *map[string]json.RawMessage, k []byte) {
	d.extensionNamed(m, d.keepKey(k))
}

// extensionNamed is extension for a member name already kept.
func (d *decoder) extensionNamed(m *map[string]json.RawMessage, name string) {
	if *m == nil {
		*m = make(map[string]json.RawMessage, 2)
	} else if _, dup := (*m)[name]; dup {
		d.failDup()
		d.skip()
		return
	}
	if d.model && isPlaceholder(name) {
		d.fail("a member name must not be a placeholder")
	}
	(*m)[name] = d.raw()
}

// boxString returns the string just read (b) as an interface value. The
// last few are remembered, so that enums repeated across a document
// ("idle", "running", "error" in every status property) share one boxed
// copy instead of allocating one each; strings are immutable, so sharing
// them is invisible.
func (d *decoder) boxString(b []byte) any {
	for i := range d.boxed {
		if v := d.boxed[i]; v.s == string(b) && v.v != nil {
			return v.v
		}
	}
	s := d.lastStr(b)
	v := any(s)
	d.boxed[d.nextBox] = boxedString{s, v}
	d.nextBox = (d.nextBox + 1) % len(d.boxed)
	return v
}

// value decodes any JSON value into the types encoding/json uses for
// interface values (map[string]any, []any, string, float64, bool, nil).
func (d *decoder) value() any {
	switch c := d.peek(); c {
	case '{':
		d.pos++
		d.enter()
		m := make(map[string]any)
		for first := true; d.next(&first, '}'); {
			k := d.key()
			d.pushKey()
			if _, dup := m[string(k)]; dup {
				d.failDup()
				d.skip()
			} else {
				name := d.keepKey(k)
				m[name] = d.value()
			}
			d.pop()
		}
		return m
	case '[':
		d.pos++
		d.enter()
		// Nested arrays stack their elements in tmpAny; the finished
		// array is carved from the slab.
		base := len(d.tmpAny)
		i := 0
		for first := true; d.next(&first, ']'); i++ {
			d.pushIndex(i)
			x := d.value()
			d.tmpAny = append(d.tmpAny, x)
			d.pop()
		}
		a := d.anySlab.clone(d.tmpAny[base:])
		clear(d.tmpAny[base:])
		d.tmpAny = d.tmpAny[:base]
		return a
	case '"':
		b, _ := d.rawString()
		return d.boxString(b)
	case 't', 'f', 'n':
		switch d.literal() {
		case 't':
			return true
		case 'f':
			return false
		}
		return nil
	default:
		return parseNumber(d.numberSpan())
	}
}

// isPlaceholder reports whether s contains a Thing Model placeholder, as
// the TM schema's pattern ^.*[{]{2}[ -~]+[}]{2}.*$ says: "{{", one or more
// printable ASCII characters, "}}". It runs in linear time: within each
// run of printable characters it is enough that the first "{{" comes
// before the last "}}" with something in between.
func isPlaceholder(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < ' ' || s[i] > '~' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= ' ' && s[j] <= '~' {
			j++
		}
		run := s[i:j]
		if open := strings.Index(run, "{{"); open >= 0 {
			if close := strings.LastIndex(run, "}}"); close >= open+3 {
				return true
			}
		}
		i = j
	}
	return false
}
