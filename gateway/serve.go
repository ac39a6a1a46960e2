package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ServeHTTP serves the gateway's HTTP, SSE and WebSocket API:
//
//	/.well-known/wot                            the directory's own TD
//	/things                                     Things API listing (?offset, ?limit)
//	/things/{id}                                a thing's TD 1.1
//	/things/{id}/properties                     readallproperties, readmultipleproperties (?name=…), writemultipleproperties
//	/things/{id}/properties/{name}              readproperty (GET), writeproperty (PUT)
//	/things/{id}/properties/{name}/observable   observeproperty (SSE)
//	/things/{id}/actions                        queryallactions
//	/things/{id}/actions/{name}                 invokeaction (POST)
//	/things/{id}/actions/{name}/{action}        queryaction (GET), cancelaction (DELETE)
//	/things/{id}/events                         subscribeallevents (SSE)
//	/things/{id}/events/{name}                  subscribeevent (SSE)
//
// and, when Config.WebThings enables it, the WebThings Web Thing API at
// its mount path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		writeProblem(w, http.StatusServiceUnavailable, "", "the gateway is shutting down")
		return
	}
	if !s.hosts.allows(r.Host) {
		writeProblem(w, http.StatusMisdirectedRequest, "", "this host name is not served here")
		return
	}
	if s.cors.apply(w, r) {
		return
	}
	if !s.sameOrigin(r) {
		writeProblem(w, http.StatusForbidden, "", "cross-origin request refused")
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeProblem(w, http.StatusBadRequest, "", "malformed path")
		return
	}
	if len(segs) > 0 {
		switch segs[0] {
		case ".well-known":
			if len(segs) == 2 && segs[1] == "wot" {
				s.serveDirectoryTD(w, r)
				return
			}
		case "things":
			if len(segs) == 1 {
				s.serveListing(w, r)
				return
			}
			s.serveThing(w, r, segs[1], segs[2:])
			return
		}
	}
	if s.cfg.WebThings.Layout != WebThingsOff {
		if rest, ok := s.underMount(segs); ok {
			s.serveWebThings(w, r, rest)
			return
		}
	}
	notFound(w)
}

// splitPath splits an escaped URL path into unescaped segments, ignoring
// the leading slash and one trailing slash. It reports false for a
// malformed escape or an empty inner segment.
func splitPath(p string) ([]string, bool) {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, true
	}
	n := strings.Count(p, "/") + 1
	if n > 16 {
		return nil, false
	}
	segs := make([]string, 0, n)
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			return nil, false
		}
		if strings.IndexByte(seg, '%') >= 0 {
			u, err := url.PathUnescape(seg)
			if err != nil {
				return nil, false
			}
			seg = u
		}
		segs = append(segs, seg)
	}
	return segs, true
}

// underMount strips the WebThings mount path from segs.
func (s *Server) underMount(segs []string) ([]string, bool) {
	if s.wtPath == "" {
		return segs, true
	}
	mount, _ := splitPath(s.wtPath)
	if len(segs) < len(mount) {
		return nil, false
	}
	for i, m := range mount {
		if segs[i] != m {
			return nil, false
		}
	}
	return segs[len(mount):], true
}

// thingPath is the escaped path of a thing's W3C resources, relative to
// the base URI: "things/{id}".
func thingPath(id string) string { return "things/" + url.PathEscape(id) }

// legacyHref is the absolute path of a thing in the WebThings layout,
// without the trailing slash ("" for the single thing at the root).
func (s *Server) legacyHref(o origin, e *entry) string {
	switch s.cfg.WebThings.Layout {
	case WebThingsMulti:
		return o.prefix + s.wtPath + "/" + strconv.Itoa(e.index)
	default:
		return o.prefix + s.wtPath
	}
}
