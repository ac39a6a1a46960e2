package gateway

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSplitPath: splitPath never panics, and the segments it accepts
// escape back to a path that splits the same way.
func FuzzSplitPath(f *testing.F) {
	for _, p := range []string{
		"/", "/things", "/things/urn:test:lamp/properties/on/", "/things/a%2Fb/actions/fade/12",
		"//x", "/a/%zz", "/%2F%2F", "/" + strings.Repeat("a/", 20), "/things/caf%C3%A9",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, ok := splitPath(p)
		if !ok {
			return
		}
		if len(segs) > 16 {
			t.Fatalf("splitPath(%q): %d segments", p, len(segs))
		}
		esc := make([]string, len(segs))
		for i, s := range segs {
			if s == "" {
				t.Fatalf("splitPath(%q): empty segment in %q", p, segs)
			}
			esc[i] = url.PathEscape(s)
		}
		again, ok := splitPath("/" + strings.Join(esc, "/"))
		if !ok || strings.Join(again, "\x00") != strings.Join(segs, "\x00") {
			t.Fatalf("splitPath(%q) = %q; its escaping splits to %q, %v", p, segs, again, ok)
		}
	})
}
