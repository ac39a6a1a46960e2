package thing

import (
	"strings"
	"testing"
)

func TestIsPlaceholder(t *testing.T) {
	for s, want := range map[string]bool{
		"{{A}}": true, "x {{MAX}} y": true, "{{}}}": true, "{{ }}": true, "{{}}": false, "{A}": false,
		"{{A}": false, "A}}": false, "{{\x01}}": false, "{{a\n}}": false, "}}{{a": false, "{{a}} {{": true,
		"PLACEHOLDER": false, "{PLACEHOLDER}": false,
	} {
		if got := isPlaceholder(s); got != want {
			t.Errorf("isPlaceholder(%q) = %v, want %v", s, got, want)
		}
	}
	// Linear time on hostile input (this would take minutes if quadratic).
	long := strings.Repeat("{{", 1<<20)
	if isPlaceholder(long) {
		t.Error("no closing braces, yet a placeholder")
	}
}

func TestTranslatePattern(t *testing.T) {
	cases := []struct {
		ecma string
		in   string
		want bool
	}{
		{`^a.c$`, "abc", true},
		{`^a.c$`, "a\rc", false},
		{`^a.c$`, "a\u2029c", false},
		{`^\s+$`, "\u00a0\ufeff\u3000", true},
		{`^\S+$`, "a\u00a0", false},
		{`^[\s]$`, "\u2003", true},
		{`^[^\s]$`, "\u2003", false},
		{`^[\S]$`, "x", true},
		{`^[\S]$`, " ", false},
		{`^\u00e9$`, "é", true},
		{`^\u{1F600}$`, "😀", true},
		{`^\ud83d\ude00$`, "😀", true},
		{`^\x41$`, "A", true},
		{`^\cJ$`, "\n", true},
		{`^[\b]$`, "\b", true},
		{`\bword\b`, "a word.", true},
		{`^\d{3}$`, "١٢٣", false}, // ECMA \d is ASCII only
		{`^[^]$`, "\n", true},
		{`^a[]b$`, "ab", false},
		{`^\/api\/$`, "/api/", true},
		{`^\a$`, "a", true},
		{`(?<year>\d{4})`, "2024", true},
		{`^\p{L}+$`, "héllo", true},
		{`^\0$`, "\x00", true},
	}
	for _, c := range cases {
		re, err := compilePattern(c.ecma)
		if err != nil {
			t.Errorf("%s: %v", c.ecma, err)
			continue
		}
		if got := re.MatchString(c.in); got != c.want {
			t.Errorf("%s on %q = %v, want %v (RE2: %s)", c.ecma, c.in, got, c.want, re)
		}
	}
}
