package discovery_test

import (
	"fmt"

	"github.com/hearth-wot/hearth/gateway/discovery"
)

// A gateway advertises its WoT directory and its Web Thing API. Run (not
// called here) starts answering queries on the network.
func Example() {
	adv, err := discovery.New(discovery.Config{HostName: "gateway.local."})
	if err != nil {
		panic(err)
	}
	adv.Add(discovery.WoTDirectory("Holiday home 12", 8443, "/.well-known/wot", true))
	adv.Add(discovery.WebThing("Holiday home 12", 8443, "/things", true))
	for _, s := range adv.Services() {
		fmt.Println(s.Instance, s.Type, s.Subtypes, s.Port, s.TXT)
	}
	// Output:
	// Holiday home 12 _wot._tcp [_directory] 8443 [td=/.well-known/wot type=Directory scheme=https]
	// Holiday home 12 _webthing._tcp [] 8443 [path=/things tls=1]
}
