package discovery

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// Config configures an Advertiser. The zero value is ready to use.
type Config struct {
	// HostName is this host's name in the .local domain, such as
	// "gateway.local.". Empty means the system host name's first label
	// (lower-cased, reduced to letters, digits and hyphens) under .local.
	HostName string

	// Interface is the network interface to answer on. Nil means the
	// system's default multicast interface.
	Interface *net.Interface

	// IPs are the addresses advertised for HostName. Nil means the
	// current addresses of Interface or, without one, of every interface
	// that is up, multicast-capable and not loopback, looked up at each
	// query (so DHCP changes are followed).
	IPs []net.IP

	// Logger receives the advertiser's diagnostics. Nil means discard.
	Logger *slog.Logger
}

// Advertiser answers mDNS (RFC 6762) queries for DNS-SD (RFC 6763)
// service instances: the things and directories of a gateway. Nothing is
// sent until Run is called. Services may be added and removed at any
// time, also while Run runs.
//
// An Advertiser is safe for concurrent use.
type Advertiser struct {
	cfg  Config
	log  *slog.Logger
	zone *zone
}

// New returns an Advertiser with no services.
func New(cfg Config) (*Advertiser, error) {
	host := cfg.HostName
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			h = ""
		}
		host = sanitizeHost(h) + ".local."
	}
	host = dns.Fqdn(host)
	if _, ok := dns.IsDomainName(host); !ok {
		return nil, fmt.Errorf("discovery: host name %q is not a domain name: %w", cfg.HostName, ErrInvalidService)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Advertiser{cfg: cfg, log: log}
	hostWire, ok := wire(host)
	if !ok {
		return nil, fmt.Errorf("discovery: host name %q is not a domain name: %w", cfg.HostName, ErrInvalidService)
	}
	a.zone = &zone{host: host, hostWire: hostWire, addrs: a.addrs}
	return a, nil
}

// sanitizeHost turns a system host name into a DNS label.
func sanitizeHost(h string) string {
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, h)
	h = strings.Trim(h, "-")
	if h == "" {
		return "hearth"
	}
	return h
}

// HostName returns the host name the advertiser answers for.
func (a *Advertiser) HostName() string { return a.zone.host }

// Add advertises s. It fails with an error wrapping ErrInvalidService if s
// does not validate, or ErrExists if its instance name is already
// advertised under its type.
func (a *Advertiser) Add(s Service) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return a.zone.add(s)
}

// Remove stops advertising the instance of serviceType, reporting whether
// it was advertised. Browsers notice when their cached records expire: no
// goodbye packet is sent.
func (a *Advertiser) Remove(instance, serviceType string) bool {
	return a.zone.remove(instance, serviceType)
}

// Services returns the advertised services.
func (a *Advertiser) Services() []Service {
	return a.zone.list()
}

// Run answers mDNS queries on the local network until ctx is done, then
// returns nil. It fails if no multicast socket can be opened (for example
// because the host has no multicast-capable interface).
func (a *Advertiser) Run(ctx context.Context) error {
	logger := log.New(io.Discard, "", 0)
	if a.cfg.Logger != nil {
		logger = slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelDebug)
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: a.zone, Iface: a.cfg.Interface, Logger: logger})
	if err != nil {
		return fmt.Errorf("discovery: starting the mDNS responder: %w", err)
	}
	a.log.Info("discovery: advertising", "host", a.zone.host, "services", len(a.zone.list()))
	<-ctx.Done()
	return srv.Shutdown()
}

// addrs returns the addresses to advertise for the host.
func (a *Advertiser) addrs() []net.IP {
	if a.cfg.IPs != nil {
		return a.cfg.IPs
	}
	var ifaces []net.Interface
	if a.cfg.Interface != nil {
		ifaces = []net.Interface{*a.cfg.Interface}
	} else {
		all, err := net.Interfaces()
		if err != nil {
			a.log.Warn("discovery: listing interfaces", "err", err)
			return nil
		}
		for _, ifc := range all {
			if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagMulticast != 0 && ifc.Flags&net.FlagLoopback == 0 {
				ifaces = append(ifaces, ifc)
			}
		}
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			if ipn, ok := addr.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				ips = append(ips, ipn.IP)
			}
		}
	}
	return ips
}

// Record lifetimes, as RFC 6762 section 10 recommends: 120 s for records
// naming a host or its addresses, 75 min for the others.
const (
	hostTTL  = 120
	otherTTL = 4500
)

// cacheFlush is the top bit of the class of a unique record in an mDNS
// response (RFC 6762 section 10.2).
const cacheFlush = 1 << 15

// zone answers DNS questions from the advertised services. It implements
// mdns.Zone.
type zone struct {
	host     string
	hostWire string
	addrs    func() []net.IP

	mu       sync.RWMutex
	services []*zoneEntry
}

// zoneEntry is an advertised service with its names prepared: in
// presentation format for answers, in wire format for matching questions.
type zoneEntry struct {
	s          Service
	inst       string   // instance name
	instWire   string   // instance name, wire format
	typeWire   string   // <type>.local., wire format
	subWires   []string // <subtype>._sub.<type>.local., wire format
	typeDomain string   // <type>.local.
}

func newZoneEntry(s Service) (*zoneEntry, error) {
	e := &zoneEntry{s: s, inst: instanceName(s), typeDomain: s.Type + ".local."}
	var ok1, ok2 bool
	e.instWire, ok1 = wire(e.inst)
	e.typeWire, ok2 = wire(e.typeDomain)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("discovery: %q is not a valid domain name: %w", e.inst, ErrInvalidService)
	}
	for _, st := range s.Subtypes {
		w, ok := wire(st + "._sub." + e.typeDomain)
		if !ok {
			return nil, fmt.Errorf("discovery: subtype %q: %w", st, ErrInvalidService)
		}
		e.subWires = append(e.subWires, w)
	}
	return e, nil
}

func (z *zone) add(s Service) error {
	s.Subtypes = slices.Clone(s.Subtypes)
	s.TXT = slices.Clone(s.TXT)
	e, err := newZoneEntry(s)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, o := range z.services {
		if o.instWire == e.instWire {
			return fmt.Errorf("discovery: %q: %w", e.inst, ErrExists)
		}
	}
	z.services = append(z.services, e)
	return nil
}

func (z *zone) remove(instance, serviceType string) bool {
	w, ok := wire(instanceName(Service{Instance: instance, Type: serviceType}))
	if !ok {
		return false
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	n := len(z.services)
	z.services = slices.DeleteFunc(z.services, func(e *zoneEntry) bool { return e.instWire == w })
	return len(z.services) < n
}

func (z *zone) list() []Service {
	z.mu.RLock()
	defer z.mu.RUnlock()
	out := make([]Service, len(z.services))
	for i, e := range z.services {
		s := e.s
		s.Subtypes = slices.Clone(s.Subtypes)
		s.TXT = slices.Clone(s.TXT)
		out[i] = s
	}
	return out
}

// escapeLabel escapes an instance name for use as one label of a domain
// name in presentation format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(s)
}

func instanceName(s Service) string {
	return escapeLabel(s.Instance) + "." + s.Type + ".local."
}

// wire returns a domain name in lower-cased wire format, so that names
// compare equal however their presentation escapes characters.
func wire(name string) (string, bool) {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return "", false
	}
	b := buf[:n]
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}

// Records implements mdns.Zone: the records that answer q.
func (z *zone) Records(q dns.Question) []dns.RR {
	name, ok := wire(q.Name)
	if !ok {
		return nil
	}
	want := func(t uint16) bool { return q.Qtype == t || q.Qtype == dns.TypeANY }

	z.mu.RLock()
	defer z.mu.RUnlock()
	var rrs []dns.RR
	switch name {
	case servicesWire:
		if !want(dns.TypePTR) {
			return nil
		}
		var seen []string
		for _, e := range z.services {
			if !slices.Contains(seen, e.typeWire) {
				seen = append(seen, e.typeWire)
				rrs = append(rrs, ptr(q.Name, e.typeDomain))
			}
		}
		return rrs
	case z.hostWire:
		return z.addressRecords(q.Qtype)
	}
	for _, e := range z.services {
		switch {
		case name == e.typeWire, slices.Contains(e.subWires, name):
			if want(dns.TypePTR) {
				rrs = append(rrs, ptr(q.Name, e.inst))
				rrs = append(rrs, z.instanceRecords(e, dns.TypeANY)...)
			}
		case name == e.instWire:
			rrs = append(rrs, z.instanceRecords(e, q.Qtype)...)
		}
	}
	return rrs
}

var servicesWire, _ = wire("_services._dns-sd._udp.local.")

func ptr(name, target string) dns.RR {
	return &dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: otherTTL}, Ptr: target}
}

// instanceRecords returns s's SRV and TXT records (as qtype asks), with
// the host's addresses when the SRV record is among them.
func (z *zone) instanceRecords(e *zoneEntry, qtype uint16) []dns.RR {
	s, inst := e.s, e.inst
	var rrs []dns.RR
	if qtype == dns.TypeSRV || qtype == dns.TypeANY {
		rrs = append(rrs, &dns.SRV{
			Hdr:    dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET | cacheFlush, Ttl: hostTTL},
			Target: z.host, Port: uint16(s.Port),
		})
		rrs = append(rrs, z.addressRecords(dns.TypeANY)...)
	}
	if qtype == dns.TypeTXT || qtype == dns.TypeANY {
		txt := make([]string, len(s.TXT))
		for i, kv := range s.TXT {
			txt[i] = strings.ReplaceAll(kv, `\`, `\\`)
		}
		if len(txt) == 0 {
			txt = []string{""} // RFC 6763 section 6.1: never an empty TXT record
		}
		rrs = append(rrs, &dns.TXT{
			Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeTXT, Class: dns.ClassINET | cacheFlush, Ttl: otherTTL},
			Txt: txt,
		})
	}
	return rrs
}

// addressRecords returns the host's A and AAAA records, as qtype asks.
func (z *zone) addressRecords(qtype uint16) []dns.RR {
	var rrs []dns.RR
	for _, ip := range z.addrs() {
		if ip4 := ip.To4(); ip4 != nil {
			if qtype == dns.TypeA || qtype == dns.TypeANY {
				rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: z.host, Rrtype: dns.TypeA, Class: dns.ClassINET | cacheFlush, Ttl: hostTTL}, A: ip4})
			}
		} else if qtype == dns.TypeAAAA || qtype == dns.TypeANY {
			rrs = append(rrs, &dns.AAAA{Hdr: dns.RR_Header{Name: z.host, Rrtype: dns.TypeAAAA, Class: dns.ClassINET | cacheFlush, Ttl: hostTTL}, AAAA: ip})
		}
	}
	return rrs
}
