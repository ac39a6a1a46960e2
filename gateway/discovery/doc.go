// Package discovery advertises a gateway and its things on the local
// network with multicast DNS (RFC 6762) and DNS-Based Service Discovery
// (RFC 6763), so that apps and other gateways find them without
// configuration, and browses for Web Things to front.
//
// Two service types are advertised:
//
//   - _webthing._tcp, the WebThings convention: TXT "path=" names the
//     Web Thing API resource (a thing or a listing), "tls=1" marks HTTPS.
//     See WebThing.
//   - _wot._tcp, W3C WoT Discovery (section 6.3): TXT "td=" is the path
//     of a Thing Description, "type=" is Thing or Directory (a Thing
//     Description Directory is also found under the _directory subtype),
//     "scheme=https" marks HTTPS. See WoTThing and WoTDirectory.
//
// # Tour
//
// Advertising is off until you ask for it: nothing is sent until Run.
//
//	adv, err := discovery.New(discovery.Config{})
//	adv.Add(discovery.WoTDirectory("Holiday home 12", 8443, "/.well-known/wot", true))
//	adv.Add(discovery.WebThing("Holiday home 12", 8443, "/things", true))
//	go adv.Run(ctx) // until ctx is done
//
// Browse finds instances of a service type, for example WebThings
// devices to front with package webthing.
//
// # Implementation
//
// The responder is github.com/hashicorp/mdns (pure Go, maintained; its
// messages are built with github.com/miekg/dns). This package supplies the
// records (service enumeration, PTR for types and subtypes, SRV, TXT,
// A/AAAA, with RFC 6762 lifetimes and cache-flush bits) and compares names
// in wire format, so instance names with spaces or dots resolve however a
// querier escapes them. The library answers queries, including QU
// (unicast-response) questions; it does not probe for name conflicts,
// announce unsolicited, or send goodbye packets, so a browser that is
// already running learns of a new instance at its next query and of a
// removed one when its cached records expire (at most 75 minutes).
//
// # Privacy
//
// An advertisement tells everyone on the network that a gateway is here.
// Name instances after the home, not its guests, and advertise only on
// networks the residents control. Nothing but the services added is
// advertised; descriptions themselves are served (and access-checked) by
// the gateway over HTTP.
//
// # Concurrency
//
// An Advertiser is safe for concurrent use; Run is a blocking loop whose
// goroutine the caller owns.
package discovery
