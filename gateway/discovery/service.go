package discovery

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Service types of the Web of Things.
const (
	// TypeWebThing is the WebThings service type: a Web Thing API server
	// whose TXT record's "path" names its thing (or things) listing.
	TypeWebThing = "_webthing._tcp"
	// TypeWoT is the W3C WoT Discovery service type for HTTP: its TXT
	// record's "td" names the path of a Thing Description, "type" says
	// whether it describes a Thing or a Thing Description Directory.
	TypeWoT = "_wot._tcp"
	// SubtypeDirectory is the subtype under which a WoT Thing Description
	// Directory is also advertised (_directory._sub._wot._tcp).
	SubtypeDirectory = "_directory"
)

// Service is one DNS-SD service instance to advertise.
type Service struct {
	// Instance is the user-visible instance name, such as "Holiday home
	// 12". Up to 63 bytes of UTF-8; it may contain spaces and dots.
	Instance string
	// Type is the service type, such as TypeWoT.
	Type string
	// Subtypes are further types the instance is found under, such as
	// SubtypeDirectory.
	Subtypes []string
	// Port is the TCP (or UDP) port of the service.
	Port int
	// TXT holds the TXT record's "key=value" (or bare "key") strings.
	TXT []string
}

// WebThing returns the _webthing._tcp advertisement of a Web Thing API
// server: TXT "path" names the thing (or things listing) at that path,
// and "tls=1" says it is served over HTTPS, as the webthing libraries
// advertise.
func WebThing(instance string, port int, path string, tls bool) Service {
	s := Service{Instance: instance, Type: TypeWebThing, Port: port, TXT: []string{"path=" + path}}
	if tls {
		s.TXT = append(s.TXT, "tls=1")
	}
	return s
}

// WoTThing returns the _wot._tcp advertisement of a Thing whose Thing
// Description is served at tdPath (WoT Discovery, section 6.3): TXT
// "td=<path>", "type=Thing", and "scheme=https" when tls is set (http is
// the default for _tcp).
func WoTThing(instance string, port int, tdPath string, tls bool) Service {
	return wot(instance, port, tdPath, "Thing", tls)
}

// WoTDirectory returns the _wot._tcp advertisement of a Thing Description
// Directory whose own description is served at tdPath (usually
// "/.well-known/wot"): TXT "type=Directory", and the _directory subtype.
func WoTDirectory(instance string, port int, tdPath string, tls bool) Service {
	s := wot(instance, port, tdPath, "Directory", tls)
	s.Subtypes = []string{SubtypeDirectory}
	return s
}

func wot(instance string, port int, tdPath, typ string, tls bool) Service {
	s := Service{Instance: instance, Type: TypeWoT, Port: port, TXT: []string{"td=" + tdPath, "type=" + typ}}
	if tls {
		s.TXT = append(s.TXT, "scheme=https")
	}
	return s
}

// ErrInvalidService is wrapped by errors for a Service that cannot be
// advertised.
var ErrInvalidService = errors.New("discovery: invalid service")

// ErrExists is returned by Advertiser.Add for an instance already
// advertised under the same type.
var ErrExists = errors.New("discovery: service instance already advertised")

var (
	typeRE    = regexp.MustCompile(`^_[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?\._(?:tcp|udp)$`)
	subtypeRE = regexp.MustCompile(`^_[A-Za-z0-9-]{1,62}$`)
)

// Validate reports every problem with s, joined.
func (s Service) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("discovery: %s: %w", fmt.Sprintf(format, args...), ErrInvalidService))
	}
	switch {
	case s.Instance == "":
		bad("empty instance name")
	case len(s.Instance) > 63:
		bad("instance name %q over 63 bytes", s.Instance)
	case !utf8.ValidString(s.Instance) || strings.ContainsFunc(s.Instance, unicode.IsControl):
		bad("instance name %q is not printable UTF-8", s.Instance)
	}
	if !typeRE.MatchString(s.Type) {
		bad("service type %q is not _name._tcp or _name._udp", s.Type)
	}
	for _, st := range s.Subtypes {
		if !subtypeRE.MatchString(st) {
			bad("subtype %q is not _name", st)
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("port %d out of range", s.Port)
	}
	total := 0
	for _, kv := range s.TXT {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case len(kv) > 255:
			bad("TXT string %.20q... over 255 bytes", kv)
		case key == "":
			bad("TXT string %q has no key", kv)
		case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }):
			bad("TXT key %q is not printable ASCII", key)
		}
		total += 1 + len(kv)
	}
	if total > 1300 {
		bad("TXT record of %d bytes is too large for one packet", total)
	}
	return errors.Join(errs...)
}
