package thing

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrTemplate is matched by errors about malformed URI templates.
var ErrTemplate = errors.New("thing: malformed URI template")

// ExpandTemplate expands an RFC 6570 URI template (all four levels:
// simple {var}, reserved {+var}, fragment {#var}, label {.var}, path
// {/var}, path-parameter {;var}, query {?var} and continuation {&var}
// expressions, with prefix {var:3} and explode {var*} modifiers).
//
// vars maps variable names to values: a string, a bool or a number (as
// its JSON text), a list ([]string or []any), or an associative array
// (map[string]string or map[string]any, expanded in key order, or
// [][2]string pairs, expanded in their order). Missing
// and nil variables are undefined and expand to nothing, as RFC 6570
// says. An error wrapping ErrTemplate reports a malformed template.
func ExpandTemplate(template string, vars map[string]any) (string, error) {
	var b strings.Builder
	b.Grow(len(template) + 16)
	err := walkTemplate(template, func(lit string) {
		appendLiteral(&b, lit)
	}, func(op byte, specs []varSpec) error {
		return expandExpr(&b, op, specs, vars)
	})
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// TemplateVariables returns the names of the variables in an RFC 6570
// URI template, in order of first appearance.
func TemplateVariables(template string) ([]string, error) {
	var names []string
	err := walkTemplate(template, func(string) {}, func(_ byte, specs []varSpec) error {
		for _, s := range specs {
			if !slices.Contains(names, s.name) {
				names = append(names, s.name)
			}
		}
		return nil
	})
	return names, err
}

// templateHasVar reports whether the template has a variable name.
func templateHasVar(template, name string) bool {
	found := false
	_ = walkTemplate(template, func(string) {}, func(_ byte, specs []varSpec) error {
		for _, s := range specs {
			if s.name == name {
				found = true
			}
		}
		return nil
	})
	return found
}

type varSpec struct {
	name    string
	prefix  int // 0: none
	explode bool
}

func templateError(pos int, msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrTemplate, msg, pos)
}

// walkTemplate splits a template into literals and expressions.
func walkTemplate(t string, lit func(string), expr func(op byte, specs []varSpec) error) error {
	var specs [4]varSpec
	for i := 0; i < len(t); {
		j := strings.IndexAny(t[i:], "{}")
		if j < 0 {
			lit(t[i:])
			return nil
		}
		if t[i+j] == '}' {
			return templateError(i+j, "unmatched '}'")
		}
		if j > 0 {
			lit(t[i : i+j])
		}
		start := i + j + 1
		end := strings.IndexByte(t[start:], '}')
		if end < 0 {
			return templateError(i+j, "unclosed expression")
		}
		body := t[start : start+end]
		i = start + end + 1
		if body == "" {
			return templateError(start, "empty expression")
		}
		var op byte
		switch body[0] {
		case '+', '#', '.', '/', ';', '?', '&':
			op = body[0]
			body = body[1:]
		case '=', ',', '!', '@', '|':
			return templateError(start, "reserved operator "+strconv.QuoteRune(rune(body[0])))
		}
		list := specs[:0]
		for part := range strings.SplitSeq(body, ",") {
			s, err := parseVarSpec(part)
			if err != nil {
				return templateError(start, err.Error())
			}
			list = append(list, s)
		}
		if err := expr(op, list); err != nil {
			return err
		}
	}
	return nil
}

func parseVarSpec(s string) (varSpec, error) {
	var v varSpec
	switch {
	case strings.HasSuffix(s, "*"):
		v.explode = true
		s = s[:len(s)-1]
	case strings.IndexByte(s, ':') >= 0:
		k := strings.IndexByte(s, ':')
		n, err := strconv.Atoi(s[k+1:])
		if err != nil || n <= 0 || n >= 10000 || s[k+1] == '0' || s[k+1] == '+' {
			return v, errors.New("bad prefix modifier in " + strconv.Quote(s))
		}
		v.prefix = n
		s = s[:k]
	}
	if s == "" {
		return v, errors.New("empty variable name")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlpha(c) || ('0' <= c && c <= '9') || c == '_':
		case c == '.' && i > 0 && i < len(s)-1 && s[i-1] != '.':
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return v, errors.New("invalid variable name " + strconv.Quote(s))
		}
	}
	v.name = s
	return v, nil
}

// appendLiteral copies template literal text, percent-encoding anything
// not allowed in a URI (but keeping existing pct-encodings).
func appendLiteral(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || isReserved(c) {
			b.WriteByte(c)
			continue
		}
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteString(s[i : i+3])
			i += 2
			continue
		}
		pctEncode(b, c)
	}
}

func isUnreserved(c byte) bool {
	return isAlpha(c) || ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~'
}

func isReserved(c byte) bool { return strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0 }

func pctEncode(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xF])
}

// encodeValue writes s, percent-encoding what the operator does not allow
// (reserved characters are kept for + and #).
func encodeValue(b *strings.Builder, s string, allowReserved bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c):
			b.WriteByte(c)
		case allowReserved && isReserved(c):
			b.WriteByte(c)
		case allowReserved && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteString(s[i : i+3])
			i += 2
		default:
			pctEncode(b, c)
		}
	}
}

type opInfo struct {
	first, sep    string
	named, ifemp  bool
	allowReserved bool
}

func operator(op byte) opInfo {
	switch op {
	case '+':
		return opInfo{"", ",", false, false, true}
	case '.':
		return opInfo{".", ".", false, false, false}
	case '/':
		return opInfo{"/", "/", false, false, false}
	case ';':
		return opInfo{";", ";", true, false, false}
	case '?':
		return opInfo{"?", "&", true, true, false}
	case '&':
		return opInfo{"&", "&", true, true, false}
	case '#':
		return opInfo{"#", ",", false, false, true}
	}
	return opInfo{"", ",", false, false, false}
}

// scalarString renders a scalar variable value; ok is false for lists,
// maps and undefined values.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return string(appendFloat(nil, v)), true
	case float32:
		return string(appendFloat(nil, float64(v))), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}

type pair struct{ k, v string }

// listOrMap turns a composite value into a list or pairs; defined is false
// for an empty composite (undefined in RFC 6570).
func listOrMap(v any) (list []string, pairs []pair, isMap, defined bool) {
	switch v := v.(type) {
	case []string:
		return v, nil, false, len(v) > 0
	case []any:
		for _, x := range v {
			if s, ok := scalarString(x); ok {
				list = append(list, s)
			}
		}
		return list, nil, false, len(list) > 0
	case [][2]string:
		for _, kv := range v {
			pairs = append(pairs, pair{kv[0], kv[1]})
		}
		return nil, pairs, true, len(pairs) > 0
	case map[string]string:
		for _, k := range sortedKeys(v) {
			pairs = append(pairs, pair{k, v[k]})
		}
		return nil, pairs, true, len(pairs) > 0
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if s, ok := scalarString(v[k]); ok {
				pairs = append(pairs, pair{k, s})
			}
		}
		return nil, pairs, true, len(pairs) > 0
	}
	return nil, nil, false, false
}

func expandExpr(b *strings.Builder, op byte, specs []varSpec, vars map[string]any) error {
	o := operator(op)
	first := true
	sep := func() {
		if first {
			b.WriteString(o.first)
			first = false
		} else {
			b.WriteString(o.sep)
		}
	}
	for _, s := range specs {
		val, ok := vars[s.name]
		if !ok || val == nil {
			continue
		}
		if str, ok := scalarString(val); ok {
			sep()
			if o.named {
				b.WriteString(s.name)
				if str == "" {
					if o.ifemp {
						b.WriteByte('=')
					}
					continue
				}
				b.WriteByte('=')
			}
			if s.prefix > 0 && utf8.RuneCountInString(str) > s.prefix {
				n := 0
				for i := range str {
					if n == s.prefix {
						str = str[:i]
						break
					}
					n++
				}
			}
			encodeValue(b, str, o.allowReserved)
			continue
		}
		list, pairs, isMap, defined := listOrMap(val)
		if !defined {
			continue
		}
		if s.prefix > 0 {
			return fmt.Errorf("%w: prefix modifier on composite variable %q", ErrTemplate, s.name)
		}
		sep()
		if !s.explode {
			if o.named {
				b.WriteString(s.name)
				b.WriteByte('=')
			}
			if isMap {
				for i, p := range pairs {
					if i > 0 {
						b.WriteByte(',')
					}
					encodeValue(b, p.k, o.allowReserved)
					b.WriteByte(',')
					encodeValue(b, p.v, o.allowReserved)
				}
			} else {
				for i, x := range list {
					if i > 0 {
						b.WriteByte(',')
					}
					encodeValue(b, x, o.allowReserved)
				}
			}
			continue
		}
		if isMap {
			for i, p := range pairs {
				if i > 0 {
					b.WriteString(o.sep)
				}
				encodeValue(b, p.k, o.allowReserved)
				if o.named && p.v == "" {
					if o.ifemp {
						b.WriteByte('=')
					}
					continue
				}
				b.WriteByte('=')
				encodeValue(b, p.v, o.allowReserved)
			}
			continue
		}
		for i, x := range list {
			if i > 0 {
				b.WriteString(o.sep)
			}
			if o.named {
				b.WriteString(s.name)
				if x == "" {
					if o.ifemp {
						b.WriteByte('=')
					}
					continue
				}
				b.WriteByte('=')
			}
			encodeValue(b, x, o.allowReserved)
		}
	}
	return nil
}
