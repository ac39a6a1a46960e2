package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// RecommendedHTTPServer returns an http.Server for h with the timeouts a
// gateway should use: headers must arrive within 5 s and a request within
// 30 s, idle keep-alive connections close after 2 minutes, and headers are
// limited to 16 KiB. Its WriteTimeout bounds ordinary responses; the
// Server's SSE streams extend their own deadlines as they write and its
// WebSocket streams manage theirs, so long-lived streams are unaffected.
//
// The caller sets TLSConfig, starts it, and shuts it down.
func RecommendedHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// hostPolicy decides which Host header values the Server answers.
type hostPolicy struct {
	any        bool
	ipLiterals bool // the default policy: any IP literal
	exact      map[string]bool
	suffixes   []string // ".example.com"
}

func newHostPolicy(list []string) (hostPolicy, error) {
	if list == nil {
		return hostPolicy{
			ipLiterals: true,
			exact:      map[string]bool{"localhost": true},
			suffixes:   []string{".localhost", ".local", ".home.arpa"},
		}, nil
	}
	p := hostPolicy{exact: make(map[string]bool)}
	for _, h := range list {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		switch {
		case h == "*":
			p.any = true
		case strings.HasPrefix(h, "*.") && len(h) > 2:
			p.suffixes = append(p.suffixes, h[1:])
		case h == "" || strings.ContainsAny(h, "/*: ") && !isIPv6(h):
			return p, fmt.Errorf("gateway: AllowedHosts entry %q is not a host name", h)
		default:
			p.exact[h] = true
		}
	}
	return p, nil
}

func isIPv6(h string) bool {
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is6()
}

// hostOnly strips the port, the brackets of an IPv6 literal and the
// final dot of a name from a Host header value, and lowers its case.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	} else if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func (p *hostPolicy) allows(hostport string) bool {
	if p.any {
		return true
	}
	h := hostOnly(hostport)
	if h == "" {
		return false
	}
	if p.exact[h] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	if p.ipLiterals {
		// A DNS rebinding attack cannot produce an IP literal Host.
		_, err := netip.ParseAddr(h)
		return err == nil
	}
	return false
}

// CORS configures Cross-Origin Resource Sharing for browser clients.
type CORS struct {
	// AllowedOrigins lists the origins ("https://app.example.com") whose
	// scripts may call the Server, or "*" for any. Nil allows none.
	AllowedOrigins []string
	// MaxAge is how long browsers may cache a preflight answer. Zero means
	// 10 minutes.
	MaxAge time.Duration
}

type corsPolicy struct {
	any     bool
	origins map[string]bool
	maxAge  string
}

func newCORSPolicy(c CORS) (corsPolicy, error) {
	p := corsPolicy{origins: make(map[string]bool)}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			p.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return p, fmt.Errorf("gateway: CORS origin %q is not scheme://host[:port]", o)
		}
		p.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	age := c.MaxAge
	if age <= 0 {
		age = 10 * time.Minute
	}
	p.maxAge = strconv.Itoa(int(age / time.Second))
	return p, nil
}

func (p *corsPolicy) allows(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// apply sets the CORS headers for r. It reports true when r was a
// preflight request, which it has answered.
func (p *corsPolicy) apply(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !p.allows(origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Location, Link, WWW-Authenticate")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
		h.Set("Access-Control-Max-Age", p.maxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// sameOrigin reports whether r may go on as far as cross-site request
// forgery is concerned: a safe method (GET, HEAD, OPTIONS), a request from
// the Server's own origin or from no browser, or from an origin CORS
// allows. Browsers send some cross-origin requests without a preflight
// (a text/plain POST from a form or fetch on another site): those must
// not change state, whatever the Authorizer would allow (InsecureAllowAll
// allows everyone). Cross-origin is told by Sec-Fetch-Site, or else by
// comparing Origin with Host (net/http.CrossOriginProtection).
func (s *Server) sameOrigin(r *http.Request) bool {
	if s.csrf.Check(r) == nil {
		return true
	}
	o := r.Header.Get("Origin")
	return o != "" && s.cors.allows(o)
}

// checkOrigin decides whether a browser may open a WebSocket: same origin,
// or an origin CORS allows. Clients that send no Origin are not browsers.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.cors.allows(origin)
}

// cleanMount validates the WebThings mount path.
func cleanMount(wt WebThings) (string, error) {
	if wt.Layout < WebThingsOff || wt.Layout > WebThingsMulti {
		return "", fmt.Errorf("gateway: unknown WebThings layout %d", wt.Layout)
	}
	p := wt.Path
	if p == "" || p == "/" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#%") {
		return "", fmt.Errorf("gateway: WebThings path %q must be an absolute path", p)
	}
	c := path.Clean(p)
	if c == "/things" || strings.HasPrefix(c, "/things/") || c == "/.well-known" || strings.HasPrefix(c, "/.well-known/") {
		return "", fmt.Errorf("gateway: WebThings path %q collides with the WoT API", p)
	}
	return strings.TrimSuffix(c, "/"), nil
}

// origin is where a request was addressed: scheme, host and the path
// prefix a trusted proxy mounts the Server under.
type origin struct {
	scheme string // "http" or "https"
	host   string // host[:port]
	prefix string // "" or "/some/prefix"
}

// originOf computes the origin of r, honouring forwarded headers from
// trusted proxies only.
func (s *Server) originOf(r *http.Request) origin {
	o := origin{scheme: "http", host: r.Host}
	if r.TLS != nil {
		o.scheme = "https"
	}
	if !s.fromTrustedProxy(r) {
		return o
	}
	if fwd := r.Header.Get("Forwarded"); fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		for _, kv := range strings.Split(first, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "proto":
				if v == "http" || v == "https" {
					o.scheme = v
				}
			case "host":
				if validHost(v) {
					o.host = v
				}
			}
		}
	} else {
		if v := firstValue(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
			o.scheme = v
		}
		if v := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(v) {
			o.host = v
		}
	}
	if v := firstValue(r.Header.Get("X-Forwarded-Prefix")); v != "" {
		if c := path.Clean(v); strings.HasPrefix(c, "/") && validEscapedPath(c) {
			o.prefix = strings.TrimSuffix(c, "/")
		}
	}
	return o
}

// validEscapedPath reports whether p is made of RFC 3986 path characters
// (pchar and "/") and well-formed percent escapes only, so that it can go
// into a URL as it is.
func validEscapedPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	u, err := url.Parse("http://" + h + "/")
	return err == nil && u.Host == h && u.User == nil
}

// fromTrustedProxy reports whether r's forwarding headers may be honoured.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	if s.cfg.TrustForwarded != nil && s.cfg.TrustForwarded(r) {
		return true
	}
	return len(s.cfg.TrustedProxies) > 0 && s.trustedPeer(r.RemoteAddr)
}

func (s *Server) trustedPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// base is the TD base URI for o: scheme://host/prefix/.
func (o origin) base() string { return o.scheme + "://" + o.host + o.prefix + "/" }

// wsBase is the WebSocket origin for o: ws://host/prefix.
func (o origin) wsBase() string {
	if o.scheme == "https" {
		return "wss://" + o.host + o.prefix
	}
	return "ws://" + o.host + o.prefix
}

var errHostNotAllowed = errors.New("gateway: host not allowed")
