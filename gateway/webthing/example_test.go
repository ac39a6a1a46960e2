package webthing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/hearth-wot/hearth/gateway/webthing"
)

// Fronting a Web Thing: the adapter fetches its description, then reads
// and writes its properties in the Web Thing API's wrapped format. A
// gateway given the adapter serves the lamp as one of its own things.
func Example() {
	var on atomic.Bool // the lamp's state
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"id": "urn:dev:ops:my-lamp-1234", "title": "My Lamp", "@type": []string{"Light", "OnOffSwitch"},
			"properties": map[string]any{"on": map[string]any{"type": "boolean", "@type": "OnOffProperty",
				"links": []any{map[string]any{"rel": "property", "href": "/properties/on"}}}},
		})
	})
	mux.HandleFunc("GET /properties/on", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"on": on.Load()})
	})
	mux.HandleFunc("PUT /properties/on", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]bool
		json.NewDecoder(r.Body).Decode(&body)
		on.Store(body["on"])
		json.NewEncoder(w).Encode(body)
	})
	lamp := httptest.NewServer(mux)
	defer lamp.Close()

	a := webthing.New(webthing.Config{})
	defer a.Close()
	ctx := context.Background()
	tds, err := a.Add(ctx, webthing.Remote{URL: lamp.URL})
	if err != nil {
		panic(err)
	}
	fmt.Println(tds[0].ID, tds[0].Title, tds[0].Type.Values)

	if err := a.WriteProperty(ctx, "urn:dev:ops:my-lamp-1234", "on", true); err != nil {
		panic(err)
	}
	v, _ := a.ReadProperty(ctx, "urn:dev:ops:my-lamp-1234", "on")
	fmt.Println("on:", v)
	// Output:
	// urn:dev:ops:my-lamp-1234 My Lamp [Light OnOffSwitch]
	// on: true
}
