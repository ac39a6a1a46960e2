package relay_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// The whole flow: a resort runs a relay, registers a home's public key,
// the home's gateway dials out to it, and a guest away from home reaches
// the gateway through the relay's public URL.
func Example() {
	// Cloud side: the relay, behind TLS.
	keys := new(relay.MemRegistry)
	srv, err := relay.NewServer(relay.Config{Registry: keys})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewTLSServer(srv) // in production: an http.Server with a real certificate
	defer ts.Close()
	defer srv.Close()

	// Home side: the gateway has its own key pair; its public half is
	// registered with the relay once, when the home is set up.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if err := keys.Register("villa-7", key.Public().(ed25519.PublicKey)); err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	connected := make(chan struct{}, 1)
	gw, err := relay.NewClient(relay.ClientConfig{
		URL:  ts.URL,
		Home: "villa-7",
		Key:  key,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "gateway serves %s", r.URL.Path) // a gateway.Server in real life
		}),
		TLSClientConfig: &tls.Config{RootCAs: roots},
		OnConnect: func() {
			select {
			case connected <- struct{}{}:
			default: // not waiting any more
			}
		},
	})
	if err != nil {
		panic(err)
	}
	go gw.Run(context.Background())
	defer gw.Close()
	<-connected

	// The guest, anywhere on the Internet.
	resp, err := ts.Client().Get(ts.URL + "/homes/villa-7/things/lamp")
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(b))
	fmt.Println("homes connected:", srv.Metrics().Homes)
	// Output:
	// 200 gateway serves /things/lamp
	// homes connected: 1
}

// The relay's counters are a plain struct: log them, export them, or
// publish them with expvar.
func ExampleServer_Metrics() {
	srv, err := relay.NewServer(relay.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	expvar.Publish("relay-example", expvar.Func(func() any { return srv.Metrics() }))

	b, _ := json.Marshal(srv.Metrics())
	fmt.Println(string(b))
	// Output:
	// {"homes":0,"streams":0,"streams_total":0,"bytes_in":0,"bytes_out":0,"connects":0,"refused":0,"rejected":0}
}
