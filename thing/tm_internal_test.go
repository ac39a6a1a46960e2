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
		if got := isPlaceholder([]byte(s)); got != want {
			t.Errorf("isPlaceholder(%q) = %v, want %v", s, got, want)
		}
	}
	// Linear time on hostile input (this would take minutes if quadratic).
	long := []byte(strings.Repeat("{{", 1<<20))
	if isPlaceholder(long) {
		t.Error("no closing braces, yet a placeholder")
	}
}
