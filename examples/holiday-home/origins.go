package main

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Every app of the resort has its own browser origin, with a host name of
// its own: the owner's dashboard (resort.localhost), EnergySaver
// (energysaver.localhost, on its own port) and every home
// (home-N.localhost, on the home's own port and, away from home, on the
// relay's port). A browser keeps cookies per host name (not per port) and
// localStorage, service workers and the same-origin policy per origin, so
// no app can read another's pages, tokens or caches, nor send requests
// that pass another's same-origin checks; and no cookie one app sets
// reaches another. Browsers resolve every name under .localhost to this
// machine (RFC 6761); Go's resolver does not, so the cloud and the tests
// dial such names with localDialer.

// defaultDomain is the domain of the apps' host names when no -hostname
// is given.
const defaultDomain = "localhost"

// reservedHomes are names no home may take: they are the host names of
// the resort's own apps under the domain.
var reservedHomes = []string{"resort", "energysaver", "www"}

// hostOnly returns the host of a Host header value, without port,
// brackets or final dot, in lower case.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	} else if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// isLocalhostName reports whether host is "localhost" or a name under it,
// which RFC 6761 reserves for the loopback interface.
func isLocalhostName(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// isIPLiteral reports whether host is an IP address.
func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// localDialer dials names under .localhost on the loopback interface, as
// browsers do, and passes everything else to the system's resolver
// unless redirect maps it to another address first.
func localDialer(redirect func(host string) (string, bool)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if redirect != nil {
			if to, ok := redirect(host); ok {
				return d.DialContext(ctx, network, net.JoinHostPort(to, port))
			}
		}
		if isLocalhostName(host) {
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
		return d.DialContext(ctx, network, addr)
	}
}

// onlyHost serves h on the host name canonical only. A request for an IP
// address or for localhost (someone typed the address) is redirected to
// the same URL on canonical, so that the browser keeps the app's cookies
// and storage under its own name; any other host is answered 421.
func onlyHost(canonical string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		switch {
		case host == canonical:
			h.ServeHTTP(w, r)
		case (isIPLiteral(host) || host == "localhost") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			u := url.URL{Scheme: "http", Host: canonical, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
			if r.TLS != nil {
				u.Scheme = "https"
			}
			if _, port, err := net.SplitHostPort(r.Host); err == nil {
				u.Host = net.JoinHostPort(canonical, port)
			}
			http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
		default:
			problem(w, http.StatusMisdirectedRequest, "this server does not answer for that host name")
		}
	})
}

// keepCookies removes from r every cookie whose name is not in names, so
// that a cookie of another app never reaches the handler that follows.
func keepCookies(r *http.Request, names ...string) {
	cs := r.Cookies()
	if len(cs) == 0 {
		r.Header.Del("Cookie")
		return
	}
	kept := cs[:0]
	for _, c := range cs {
		if slices.Contains(names, c.Name) {
			kept = append(kept, c)
		}
	}
	r.Header.Del("Cookie")
	for _, c := range kept {
		r.AddCookie(c)
	}
}

// homeHosts is the host policy of a home: it answers only its own names
// (on the home's network and through the relay), IP addresses (which a
// DNS-rebinding page cannot make a browser send) and names under .local
// and .home.arpa (the home network's). Every route of the home checks it,
// the gateway's and the guest app's alike.
type homeHosts struct {
	names []string
}

func (p homeHosts) allows(hostport string) bool {
	h := hostOnly(hostport)
	switch {
	case h == "":
		return false
	case slices.Contains(p.names, h), isIPLiteral(h):
		return true
	case strings.HasSuffix(h, ".local"), strings.HasSuffix(h, ".home.arpa"):
		return true
	}
	return false
}
