package discovery

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// Entry is a service instance found by Browse.
type Entry struct {
	Instance string            // the instance name, unescaped
	Host     string            // the host's .local name
	Port     int               //
	IPs      []net.IP          // the host's addresses that were answered
	TXT      map[string]string // the TXT record's keys and values ("" for bare keys)
}

// BrowseConfig configures Browse. The zero value is ready to use.
type BrowseConfig struct {
	// Interface is the interface to query on. Nil means the system's
	// default multicast interface.
	Interface *net.Interface
	// Timeout is how long answers are collected. Zero means one second.
	Timeout time.Duration
	// IPv4Only skips IPv6.
	IPv4Only bool
}

// Browse sends one mDNS query for serviceType (such as TypeWebThing) and
// returns the instances that answer within the timeout or before ctx is
// done. A gateway can use it to find Web Things on its network and front
// them (see package webthing).
func Browse(ctx context.Context, serviceType string, cfg BrowseConfig) ([]Entry, error) {
	if !typeRE.MatchString(serviceType) {
		return nil, fmt.Errorf("discovery: service type %q: %w", serviceType, ErrInvalidService)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	ch := make(chan *mdns.ServiceEntry, 64)
	done := make(chan []Entry)
	go func() {
		var out []Entry
		seen := map[string]bool{}
		for e := range ch {
			if seen[e.Name] {
				continue
			}
			seen[e.Name] = true
			out = append(out, toEntry(e, serviceType))
		}
		done <- out
	}()
	err := mdns.QueryContext(ctx, &mdns.QueryParam{
		Service:     serviceType,
		Domain:      "local",
		Timeout:     cfg.Timeout,
		Interface:   cfg.Interface,
		Entries:     ch,
		DisableIPv6: cfg.IPv4Only,
		Logger:      log.New(io.Discard, "", 0),
	})
	close(ch)
	entries := <-done
	if err != nil && ctx.Err() == nil {
		return entries, fmt.Errorf("discovery: browsing %s: %w", serviceType, err)
	}
	return entries, nil
}

func toEntry(e *mdns.ServiceEntry, serviceType string) Entry {
	inst := strings.TrimSuffix(e.Name, "."+serviceType+".local.")
	if labels := dns.SplitDomainName(e.Name); len(labels) > 0 && inst == e.Name {
		inst = labels[0]
	}
	out := Entry{Instance: unescapeLabel(inst), Host: e.Host, Port: e.Port, TXT: map[string]string{}}
	if e.AddrV4 != nil {
		out.IPs = append(out.IPs, e.AddrV4)
	}
	if e.AddrV6 != nil {
		out.IPs = append(out.IPs, e.AddrV6)
	}
	for _, kv := range e.InfoFields {
		k, v, _ := strings.Cut(kv, "=")
		out.TXT[k] = v
	}
	return out
}

// unescapeLabel undoes the presentation-format escapes of a label (\. \\
// \032 and the like).
func unescapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n < 256 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
