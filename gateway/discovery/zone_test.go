package discovery

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func testAdvertiser(t *testing.T) *Advertiser {
	t.Helper()
	a, err := New(Config{HostName: "gw.local.", IPs: []net.IP{net.ParseIP("192.0.2.7"), net.ParseIP("fd00::7")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Service{
		WoTDirectory("Holiday home 12", 8443, "/.well-known/wot", true),
		WebThing("Holiday home 12", 8443, "/things", true),
		WoTThing("Lamp v1.2 (kitchen)", 8888, "/td", false),
	} {
		if err := a.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// answer asks the zone one question, as a querier would send it, and
// checks the answer packs into a valid DNS message.
func answer(t *testing.T, a *Advertiser, name string, qtype uint16) []dns.RR {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	wire, err := q.Pack()
	if err != nil {
		t.Fatalf("packing %s: %v", name, err)
	}
	var in dns.Msg
	if err := in.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	rrs := a.zone.Records(in.Question[0])
	resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Answer: rrs, Compress: true}
	packed, err := resp.Pack()
	if err != nil {
		t.Fatalf("answer to %s does not pack: %v", name, err)
	}
	var back dns.Msg
	if err := back.Unpack(packed); err != nil {
		t.Fatalf("answer to %s does not unpack: %v", name, err)
	}
	return back.Answer
}

// summary renders records compactly: "TYPE name -> data".
func summary(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		var data string
		switch r := rr.(type) {
		case *dns.PTR:
			data = r.Ptr
		case *dns.SRV:
			data = r.Target + ":" + strconv.Itoa(int(r.Port))
		case *dns.TXT:
			data = strings.Join(r.Txt, " ")
		case *dns.A:
			data = r.A.String()
		case *dns.AAAA:
			data = r.AAAA.String()
		}
		flush := ""
		if h.Class&cacheFlush != 0 {
			flush = " flush"
		}
		out = append(out, dns.TypeToString[h.Rrtype]+" "+h.Name+" -> "+data+flush)
	}
	slices.Sort(out)
	return out
}

func TestServiceEnumeration(t *testing.T) {
	a := testAdvertiser(t)
	got := summary(answer(t, a, "_services._dns-sd._udp.local.", dns.TypePTR))
	want := []string{
		"PTR _services._dns-sd._udp.local. -> _webthing._tcp.local.",
		"PTR _services._dns-sd._udp.local. -> _wot._tcp.local.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestBrowseRecords(t *testing.T) {
	a := testAdvertiser(t)
	got := summary(answer(t, a, "_webthing._tcp.local.", dns.TypePTR))
	want := []string{
		`A gw.local. -> 192.0.2.7 flush`,
		`AAAA gw.local. -> fd00::7 flush`,
		`PTR _webthing._tcp.local. -> Holiday\ home\ 12._webthing._tcp.local.`,
		`SRV Holiday\ home\ 12._webthing._tcp.local. -> gw.local.:8443 flush`,
		`TXT Holiday\ home\ 12._webthing._tcp.local. -> path=/things tls=1 flush`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// The directory subtype finds the directory only.
	got = summary(answer(t, a, "_directory._sub._wot._tcp.local.", dns.TypePTR))
	if len(got) != 5 || !slices.Contains(got, `TXT Holiday\ home\ 12._wot._tcp.local. -> td=/.well-known/wot type=Directory scheme=https flush`) {
		t.Errorf("directory subtype: %q", got)
	}
	// _wot._tcp finds both the directory and the lamp.
	var ptrs []string
	for _, s := range summary(answer(t, a, "_wot._tcp.local.", dns.TypePTR)) {
		if strings.HasPrefix(s, "PTR") {
			ptrs = append(ptrs, s)
		}
	}
	if want := []string{
		`PTR _wot._tcp.local. -> Holiday\ home\ 12._wot._tcp.local.`,
		`PTR _wot._tcp.local. -> Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local.`,
	}; !slices.Equal(ptrs, want) {
		t.Errorf("_wot._tcp PTRs %q, want %q", ptrs, want)
	}
}

func TestResolveInstance(t *testing.T) {
	a := testAdvertiser(t)
	// However the querier escapes the instance name, and in any case.
	for _, name := range []string{
		`Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local.`,
		`LAMP\032V1\.2\032\(KITCHEN\)._WOT._TCP.LOCAL.`,
	} {
		got := summary(answer(t, a, name, dns.TypeTXT))
		if want := []string{`TXT Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local. -> td=/td type=Thing flush`}; !slices.Equal(got, want) {
			t.Errorf("TXT %s: got %q", name, got)
		}
		got = summary(answer(t, a, name, dns.TypeSRV))
		if len(got) != 3 || got[2] != `SRV Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local. -> gw.local.:8888 flush` {
			t.Errorf("SRV %s: got %q", name, got)
		}
	}
	if got := summary(answer(t, a, "gw.local.", dns.TypeA)); !slices.Equal(got, []string{"A gw.local. -> 192.0.2.7 flush"}) {
		t.Errorf("A: %q", got)
	}
	if got := summary(answer(t, a, "GW.local.", dns.TypeAAAA)); !slices.Equal(got, []string{"AAAA gw.local. -> fd00::7 flush"}) {
		t.Errorf("AAAA: %q", got)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"other.local.", dns.TypeA},
		{"_http._tcp.local.", dns.TypePTR},
		{"_wot._tcp.local.", dns.TypeA},
		{"Nobody._wot._tcp.local.", dns.TypeANY},
		{"_services._dns-sd._udp.local.", dns.TypeTXT},
	} {
		if got := answer(t, a, q.name, q.qtype); len(got) != 0 {
			t.Errorf("%s %s answered %v", q.name, dns.TypeToString[q.qtype], got)
		}
	}
}

func TestAddRemove(t *testing.T) {
	a := testAdvertiser(t)
	if err := a.Add(WoTThing("lamp V1.2 (KITCHEN)", 1, "/x", false)); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate instance: %v", err)
	}
	if !a.Remove("Lamp v1.2 (kitchen)", TypeWoT) || a.Remove("Lamp v1.2 (kitchen)", TypeWoT) {
		t.Error("Remove did not report the removal once")
	}
	if got := answer(t, a, `Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local.`, dns.TypeANY); len(got) != 0 {
		t.Errorf("removed instance still answers: %v", got)
	}
	if n := len(a.Services()); n != 2 {
		t.Errorf("%d services left", n)
	}
}

func TestValidate(t *testing.T) {
	good := WoTThing("Lamp", 80, "/td", false)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Service)
		errs int
	}{
		{"empty instance", func(s *Service) { s.Instance = "" }, 1},
		{"long instance", func(s *Service) { s.Instance = strings.Repeat("x", 64) }, 1},
		{"control character", func(s *Service) { s.Instance = "a\nb" }, 1},
		{"bad type", func(s *Service) { s.Type = "wot.tcp" }, 1},
		{"long type", func(s *Service) { s.Type = "_abcdefghijklmnop._tcp" }, 1},
		{"bad subtype", func(s *Service) { s.Subtypes = []string{"directory"} }, 1},
		{"port", func(s *Service) { s.Port = 70000 }, 1},
		{"long TXT", func(s *Service) { s.TXT = []string{"td=" + strings.Repeat("x", 300)} }, 1},
		{"keyless TXT", func(s *Service) { s.TXT = []string{"=x"} }, 1},
		{"several", func(s *Service) { s.Port = 0; s.Type = "x"; s.Instance = "" }, 3},
	} {
		s := good
		tc.edit(&s)
		err := s.Validate()
		if !errors.Is(err, ErrInvalidService) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != tc.errs {
			t.Errorf("%s: %d problems reported, want %d: %v", tc.name, n, tc.errs, err)
		}
		a := testAdvertiser(t)
		if err := a.Add(s); !errors.Is(err, ErrInvalidService) {
			t.Errorf("%s: Add accepted it: %v", tc.name, err)
		}
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"Pi.example.com": "pi", "my_box": "my-box", "": "hearth", "--": "hearth", "GW-1": "gw-1",
	} {
		if got := sanitizeHost(in); got != want {
			t.Errorf("sanitizeHost(%q) = %q, want %q", in, got, want)
		}
	}
	a, err := New(Config{})
	if err != nil || !strings.HasSuffix(a.HostName(), ".local.") {
		t.Errorf("default host name %q, %v", a.HostName(), err)
	}
	if _, err := New(Config{HostName: strings.Repeat("x", 300)}); !errors.Is(err, ErrInvalidService) {
		t.Errorf("bad host name: %v", err)
	}
}

func TestUnescapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		`Lamp\ v1\.2`: "Lamp v1.2", `a\032b`: "a b", `back\\slash`: `back\slash`, `trail\`: `trail\`, `\300x`: "300x",
	} {
		if got := unescapeLabel(in); got != want {
			t.Errorf("unescapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRecords feeds the zone questions as they arrive off the network.
func FuzzRecords(f *testing.F) {
	f.Add([]byte{}, uint16(dns.TypePTR))
	q := new(dns.Msg)
	q.SetQuestion(`Lamp\ v1\.2\ \(kitchen\)._wot._tcp.local.`, dns.TypeANY)
	b, _ := q.Pack()
	f.Add(b, uint16(dns.TypeANY))
	a, _ := New(Config{HostName: "gw.local.", IPs: []net.IP{net.ParseIP("192.0.2.7")}})
	a.Add(WoTThing("Lamp v1.2 (kitchen)", 8888, "/td", false))
	a.Add(WoTDirectory("Home", 8443, "/.well-known/wot", true))
	f.Fuzz(func(t *testing.T, packet []byte, qtype uint16) {
		var m dns.Msg
		if m.Unpack(packet) != nil {
			return
		}
		for _, q := range m.Question {
			q.Qtype = qtype
			rrs := a.zone.Records(q)
			resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs, Compress: true}
			if _, err := resp.Pack(); err != nil {
				t.Fatalf("answer to %v does not pack: %v", q, err)
			}
		}
	})
}

func BenchmarkRecordsPTR(b *testing.B) {
	a, _ := New(Config{HostName: "gw.local.", IPs: []net.IP{net.ParseIP("192.0.2.7")}})
	a.Add(WoTDirectory("Holiday home 12", 8443, "/.well-known/wot", true))
	a.Add(WebThing("Holiday home 12", 8443, "/things", true))
	q := dns.Question{Name: "_wot._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}
	b.ReportAllocs()
	for b.Loop() {
		if len(a.zone.Records(q)) != 4 {
			b.Fatal("wrong answer")
		}
	}
}
