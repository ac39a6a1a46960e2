package thing

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrPattern is matched by errors about a DataSchema "pattern" that Hearth
// cannot check: not a valid ECMA-262 regular expression, or one using a
// feature Go's RE2 engine does not have.
var ErrPattern = errors.New("thing: unsupported pattern")

// TD and JSON Schema patterns are ECMA-262 regular expressions; Go's
// regexp package is RE2. translatePattern rewrites a pattern so that RE2
// gives the ECMA-262 answer:
//
//   - "." excludes all four ECMA line terminators (\n, \r, U+2028,
//     U+2029), not only \n;
//   - \s and \S use ECMA's white space set (which includes U+00A0, U+FEFF
//     and the Unicode space separators), not only ASCII;
//   - \uXXXX, \u{X...}, \cX and \0 escapes become RE2 escapes;
//   - [^] (any character) and [] (no character) are rewritten;
//   - an identity escape of a letter RE2 does not know (\a in ECMA Annex B
//     means "a") becomes the letter itself.
//
// Backreferences (\1, \k<name>) and lookaround ((?=, (?!, (?<=, (?<!)
// have no RE2 equivalent: translatePattern reports them with ErrPattern.
// Patterns are matched against code points (as with ECMA's u flag), and
// \d, \w and \b are ASCII in both engines.
func translatePattern(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p) + 8)
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return "", patternError(p, "trailing backslash")
			}
			n, err := translateEscape(&b, p, i, inClass)
			if err != nil {
				return "", err
			}
			i = n
		case '.':
			if inClass {
				b.WriteString(`\.`)
			} else {
				b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
			}
		case '[':
			if inClass {
				b.WriteString(`\[`)
				continue
			}
			switch {
			case strings.HasPrefix(p[i:], "[^]"):
				b.WriteString(`[\x{0}-\x{10FFFF}]`)
				i += 2
				continue
			case strings.HasPrefix(p[i:], "[]"):
				b.WriteString(`[^\x{0}-\x{10FFFF}]`)
				i++
				continue
			}
			inClass = true
			b.WriteByte('[')
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			// A ']' right after '[' or '[^' closes an empty class in
			// ECMA; RE2 would read it as a literal. Handled above for the
			// two whole-class forms; anything else is literal in both.
		case ']':
			if inClass {
				inClass = false
			}
			b.WriteByte(']')
		case '(':
			if inClass {
				b.WriteString(`\(`)
				continue
			}
			if strings.HasPrefix(p[i:], "(?=") || strings.HasPrefix(p[i:], "(?!") ||
				strings.HasPrefix(p[i:], "(?<=") || strings.HasPrefix(p[i:], "(?<!") {
				return "", patternError(p, "lookaround assertions are not supported by Go's RE2")
			}
			b.WriteByte('(')
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", patternError(p, "unterminated character class")
	}
	return b.String(), nil
}

// ecmaSpace is ECMA-262's WhiteSpace and LineTerminator set, as an RE2
// class body.
const ecmaSpace = `\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

func translateEscape(b *strings.Builder, p string, i int, inClass bool) (int, error) {
	e := p[i+1]
	switch e {
	case 's':
		if inClass {
			b.WriteString(ecmaSpace)
		} else {
			b.WriteString("[" + ecmaSpace + "]")
		}
		return i + 1, nil
	case 'S':
		if inClass {
			// A negated set inside a class has no RE2 spelling; the
			// class's complement of white space is every other rune.
			b.WriteString(`\x{0}-\x{8}\x{E}-\x{1F}\x{21}-\x{9F}\x{A1}-\x{167F}\x{1681}-\x{1FFF}\x{200B}-\x{2027}\x{202A}-\x{202E}\x{2030}-\x{205E}\x{2060}-\x{2FFF}\x{3001}-\x{FEFE}\x{FF00}-\x{10FFFF}`)
		} else {
			b.WriteString("[^" + ecmaSpace + "]")
		}
		return i + 1, nil
	case 'd', 'D', 'w', 'W', 'b', 'B', 'f', 'n', 'r', 't', 'v':
		if e == 'v' {
			b.WriteString(`\x{0B}`)
		} else if e == 'b' && inClass {
			b.WriteString(`\x{08}`) // [\b] is backspace in ECMA
		} else {
			b.WriteByte('\\')
			b.WriteByte(e)
		}
		return i + 1, nil
	case 'u':
		if i+2 < len(p) && p[i+2] == '{' {
			end := strings.IndexByte(p[i+3:], '}')
			if end < 0 {
				return 0, patternError(p, `unterminated \u{...} escape`)
			}
			hex := p[i+3 : i+3+end]
			if _, err := strconv.ParseUint(hex, 16, 32); err != nil || hex == "" {
				return 0, patternError(p, `bad \u{...} escape`)
			}
			b.WriteString(`\x{` + hex + `}`)
			return i + 3 + end, nil
		}
		if i+6 <= len(p) && isHex(p[i+2]) && isHex(p[i+3]) && isHex(p[i+4]) && isHex(p[i+5]) {
			r, _ := strconv.ParseUint(p[i+2:i+6], 16, 32)
			// A surrogate pair written as two escapes is one code point.
			if 0xD800 <= r && r < 0xDC00 && i+12 <= len(p) && p[i+6] == '\\' && p[i+7] == 'u' {
				if r2, err := strconv.ParseUint(p[i+8:i+12], 16, 32); err == nil && 0xDC00 <= r2 && r2 < 0xE000 {
					cp := (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
					fmt.Fprintf(b, `\x{%X}`, cp)
					return i + 11, nil
				}
			}
			fmt.Fprintf(b, `\x{%X}`, r)
			return i + 5, nil
		}
		b.WriteByte('u')
		return i + 1, nil
	case 'x':
		if i+4 <= len(p) && isHex(p[i+2]) && isHex(p[i+3]) {
			b.WriteString(`\x{` + p[i+2:i+4] + `}`)
			return i + 3, nil
		}
		b.WriteByte('x')
		return i + 1, nil
	case 'c':
		if i+2 < len(p) && isAlpha(p[i+2]) {
			fmt.Fprintf(b, `\x{%X}`, p[i+2]%32)
			return i + 2, nil
		}
		b.WriteString(`\\c`)
		return i + 1, nil
	case '0':
		if i+2 < len(p) && '0' <= p[i+2] && p[i+2] <= '9' && !inClass {
			return 0, patternError(p, "octal escapes are not supported")
		}
		b.WriteString(`\x{0}`)
		return i + 1, nil
	case 'k':
		if strings.HasPrefix(p[i+2:], "<") {
			return 0, patternError(p, "backreferences are not supported by Go's RE2")
		}
		b.WriteByte('k')
		return i + 1, nil
	case 'p', 'P':
		// Unicode property escapes (ECMA u flag); RE2 has the same syntax
		// for general categories and scripts.
		b.WriteByte('\\')
		b.WriteByte(e)
		return i + 1, nil
	}
	if '1' <= e && e <= '9' {
		if inClass {
			return 0, patternError(p, "octal escapes are not supported")
		}
		return 0, patternError(p, "backreferences are not supported by Go's RE2")
	}
	if isAlpha(e) || ('0' <= e && e <= '9') || e == '_' {
		// Annex B identity escape: the character itself.
		b.WriteByte(e)
		return i + 1, nil
	}
	if e >= 0x80 {
		// An escaped non-ASCII character is the character itself.
		return i, nil
	}
	b.WriteByte('\\')
	b.WriteByte(e)
	return i + 1, nil
}

func patternError(p, msg string) error {
	return fmt.Errorf("%w %q: %s", ErrPattern, p, msg)
}

// compilePattern translates and compiles an ECMA-262 pattern.
func compilePattern(p string) (*regexp.Regexp, error) {
	t, err := translatePattern(p)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(t)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrPattern, p, err)
	}
	return re, nil
}
