package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed web
var webFS embed.FS

func init() {
	// Not in every system's MIME table; browsers want it for the PWA.
	mime.AddExtensionType(".webmanifest", "application/manifest+json")
}

// webAssets returns the embedded files under web/<dir>.
func webAssets(dir string) fs.FS {
	sub, err := fs.Sub(webFS, "web/"+dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// listen binds host:port, falling back to a free port when port is taken.
// Port zero always picks a free port.
func listen(host string, port int, log *slog.Logger) (net.Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err == nil || port == 0 {
		return l, err
	}
	log.Warn("port taken; using a free one instead", "addr", addr, "err", err)
	return net.Listen("tcp", net.JoinHostPort(host, "0"))
}

// urlHost returns the host to put in URLs for a listener bound to host:
// the unspecified addresses become the loopback address.
func urlHost(l net.Listener) string {
	ap := l.Addr().(*net.TCPAddr)
	ip := ap.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ap.Port))
}

// port returns the port a listener is bound to.
func port(l net.Listener) string {
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// newHTTPServer returns an http.Server with the timeouts a public server
// should have. Streams (SSE, WebSocket) manage their own deadlines through
// http.ResponseController, as the gateway and relay do.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// serve runs srv on l until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, srv *http.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// newSecret returns n random bytes as lower-case base32 without padding:
// easy to read aloud and to put in a URL.
func newSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// newCode returns a check-in code of the form "4821-0937": short enough to
// type from a key card, and guarded by an attempt limit.
func newCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	var sb strings.Builder
	for i, c := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte('0' + c%10)
	}
	return sb.String()
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// equalSecret compares secrets in constant time.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// errNoSession means a request carries no valid session cookie.
var errNoSession = errors.New("no session")

// sessions keeps browser sessions in memory: a random id in an HttpOnly
// cookie maps to a value. They end with the process (the guest checks in
// again with the code printed at start). A sessions is safe for concurrent
// use.
type sessions[T any] struct {
	cookie string        // the cookie's name
	ttl    time.Duration // how long a session lives
	mu     sync.Mutex
	m      map[string]*session[T] // by SHA-256 of the id
}

type session[T any] struct {
	v       T
	expires time.Time
}

func newSessions[T any](cookie string, ttl time.Duration) *sessions[T] {
	return &sessions[T]{cookie: cookie, ttl: ttl, m: map[string]*session[T]{}}
}

// start creates a session holding v and sets its cookie, scoped to path.
func (s *sessions[T]) start(w http.ResponseWriter, r *http.Request, path string, v T) {
	id := newSecret(32)
	s.mu.Lock()
	now := time.Now()
	for k, e := range s.m {
		if now.After(e.expires) {
			delete(s.m, k)
		}
	}
	s.m[hashSecret(id)] = &session[T]{v: v, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: path, MaxAge: int(s.ttl / time.Second),
		HttpOnly: true, Secure: r.TLS != nil || forwardedHTTPS(r), SameSite: http.SameSiteLaxMode,
	})
}

// get returns the session of r. Several cookies of the same name may
// arrive (one per path); the first valid one wins.
func (s *sessions[T]) get(r *http.Request) (T, error) {
	var zero T
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range r.CookiesNamed(s.cookie) {
		e := s.m[hashSecret(c.Value)]
		if e != nil && time.Now().Before(e.expires) {
			return e.v, nil
		}
	}
	return zero, errNoSession
}

// end deletes the sessions of r and clears the cookie.
func (s *sessions[T]) end(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	for _, c := range r.CookiesNamed(s.cookie) {
		delete(s.m, hashSecret(c.Value))
	}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// drop deletes every session whose value matches.
func (s *sessions[T]) drop(match func(T) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.m {
		if match(e.v) {
			delete(s.m, k)
			n++
		}
	}
	return n
}

func forwardedHTTPS(r *http.Request) bool {
	return r.Header.Get("X-Forwarded-Proto") == "https"
}

// securityHeaders sets the headers every page of the example sends: a
// strict Content-Security-Policy (no inline script, no third-party origin),
// no framing, no MIME sniffing, no referrer sent to other sites.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if hd.Get("Content-Security-Policy") == "" {
			hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		}
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 9457 problem detail.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}

// readJSON decodes a small JSON request body into v. State-changing JSON
// endpoints accept only application/json, which a cross-site form cannot
// send without a CORS preflight that this server never grants.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		problem(w, http.StatusUnsupportedMediaType, "send application/json")
		return false
	}
	if !sameOriginRequest(r) {
		problem(w, http.StatusForbidden, "cross-origin request refused")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusBadRequest, fmt.Sprintf("malformed JSON body: %v", err))
		return false
	}
	return true
}

// sameOriginRequest refuses requests a browser marks as cross-site.
func sameOriginRequest(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return o == "http://"+r.Host || o == "https://"+r.Host
	}
	return true
}
