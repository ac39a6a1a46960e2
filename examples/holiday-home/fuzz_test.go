package main

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever the next parameter of a check-in says, the guest
// is sent only to one of the home's own consent pages.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"consent/authorize?client_id=energysaver&state=x", "consent/consents", "https://evil.example/",
		"//evil.example", "consent/../api/token", "consent/%2e%2e/x", "consent/\\\\evil", "/consent/x", "",
	} {
		f.Add(s)
	}
	bases := []*url.URL{
		{Scheme: "http", Host: "home-1.localhost:8481", Path: "/"},
		{Scheme: "http", Host: "home-1.localhost:8470", Path: "/"},
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got == "" {
			return
		}
		if got != next {
			t.Fatalf("safeNext(%q) = %q: it keeps or refuses, never rewrites", next, got)
		}
		path, _, _ := strings.Cut(got, "?")
		if strings.ContainsAny(path, "%.") {
			t.Fatalf("safeNext(%q) keeps escapes or dots that a browser may resolve", next)
		}
		for _, base := range bases {
			// The handler redirects to base path + next.
			u, err := base.Parse(base.Path + got)
			if err != nil {
				continue // the browser would not follow it either
			}
			if u.Host != base.Host || u.Scheme != base.Scheme || !strings.HasPrefix(u.Path, base.Path+"consent/") {
				t.Fatalf("safeNext(%q) leads to %s from %s", next, u, base)
			}
		}
	})
}
