package gateway

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzHostOnly: hostOnly never panics, returns lower case, and agrees
// with net/url on the host name of every host[:port] net/url accepts
// whose host is a DNS name or an IP address (on anything else the host
// policy matches nothing anyway).
func FuzzHostOnly(f *testing.F) {
	for _, h := range []string{
		"gw.local", "GW.Local:8443", "[::1]:80", "[::1]", "192.0.2.1:8080", "example.com.", ":80",
		"[fe80::1%25eth0]:80", "a..", "[[x]]", "host:port:extra",
	} {
		f.Add(h)
	}
	var p hostPolicy
	p, _ = newHostPolicy(nil)
	f.Fuzz(func(t *testing.T, hostport string) {
		h := hostOnly(hostport)
		if h != strings.ToLower(h) {
			t.Fatalf("hostOnly(%q) = %q, not lower case", hostport, h)
		}
		p.allows(hostport) // never panics
		if strings.ContainsAny(hostport, "%") {
			return // zones: net/url unescapes them, hostOnly need not
		}
		u, err := url.Parse("http://" + hostport + "/")
		if err != nil || u.Host != hostport || u.User != nil {
			return
		}
		name := u.Hostname()
		if _, err := netip.ParseAddr(name); err != nil && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
			return
		}
		if want := strings.ToLower(strings.TrimSuffix(name, ".")); h != want {
			t.Fatalf("hostOnly(%q) = %q; net/url's host name is %q", hostport, h, want)
		}
	})
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"GW.Local:8443":      "gw.local",
		"gw.local.":          "gw.local",
		"[::1]:80":           "::1",
		"[::1]":              "::1",
		"192.0.2.1":          "192.0.2.1",
		"localhost]":         "localhost]", // a bracket belongs to a pair or to the name
		"[localhost":         "[localhost",
		"[fe80::1%25eth0]:1": "fe80::1%25eth0",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
	p, _ := newHostPolicy(nil)
	for _, h := range []string{"localhost]", "[localhost", "localhost]:80"} {
		if p.allows(h) {
			t.Errorf("the default host policy allows %q", h)
		}
	}
}
