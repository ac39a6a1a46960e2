package gateway

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzOriginOf: whatever forwarding headers a trusted proxy sends, the
// origin is http or https, a host that makes a valid URL (or the
// request's own Host), and a clean absolute prefix; an untrusted peer's
// headers change nothing.
func FuzzOriginOf(f *testing.F) {
	f.Add("127.0.0.1:8080", `for=192.0.2.1;proto=https;host=gw.example`, "", "", "", "/homes/villa")
	f.Add("gw.local", `proto=http;host="a:1", proto=https`, "https", "x.example", "/p/../q/", "")
	f.Add("gw.local", "", "https, http", "evil.example/path", "/a b", "")
	f.Add("gw.local", "host=", "ftp", "[::1]:80", "//", "")
	f.Add("[::1]:8443", `;;=;host="[::1"`, "", "user@host", "relative", "?x")
	trusting, err := New(Config{TrustForwarded: func(*http.Request) bool { return true }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { trusting.Close() })
	wary, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { wary.Close() })

	f.Fuzz(func(t *testing.T, host, fwd, proto, xhost, xprefix, prefix2 string) {
		r := &http.Request{Host: host, Header: http.Header{}, RemoteAddr: "192.0.2.9:1234"}
		set := func(k, v string) {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		set("Forwarded", fwd)
		set("X-Forwarded-Proto", proto)
		set("X-Forwarded-Host", xhost)
		set("X-Forwarded-Prefix", xprefix)
		if prefix2 != "" {
			r.Header.Add("X-Forwarded-Prefix", prefix2)
		}

		if o := wary.originOf(r); o != (origin{scheme: "http", host: host}) {
			t.Fatalf("untrusted forwarding headers honoured: %+v", o)
		}
		o := trusting.originOf(r)
		if o.scheme != "http" && o.scheme != "https" {
			t.Fatalf("scheme %q", o.scheme)
		}
		if o.host != host {
			u, err := url.Parse(o.base())
			if err != nil || u.Host != o.host || u.User != nil {
				t.Fatalf("forwarded host %q makes base %q (%v)", o.host, o.base(), err)
			}
		}
		if o.prefix != "" {
			if !strings.HasPrefix(o.prefix, "/") || strings.HasSuffix(o.prefix, "/") ||
				strings.ContainsAny(o.prefix, "?#\"<> ") || path.Clean(o.prefix) != o.prefix {
				t.Fatalf("prefix %q", o.prefix)
			}
		}
	})
}
