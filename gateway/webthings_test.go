package gateway_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
)

var wtTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)

// TestWebThingsAPI walks the WebThings Web Thing API the way the webthing
// libraries' clients do, in every layout.
func TestWebThingsAPI(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wt     gateway.WebThings
		prefix string
	}{
		{"single", gateway.WebThings{Layout: gateway.WebThingsSingle, ThingID: "urn:test:lamp"}, ""},
		{"multi", gateway.WebThings{Layout: gateway.WebThingsMulti}, "/0"},
		{"multi mounted", gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/webthings/"}, "/webthings/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, gateway.Config{WebThings: tc.wt})
			p := tc.prefix
			root := p
			if root == "" {
				root = "/"
			}
			td := decode[map[string]any](t, h.must(200, "GET", root, tokFull, ""))
			if td["id"] != "urn:test:lamp" || td["security"] != "bearer_sc" || td["@context"] != "https://webthings.io/schemas" {
				t.Fatalf("TD %v", td)
			}
			links := td["links"].([]any)
			wantRel := []string{"properties", "actions", "events", "alternate"}
			for i, rel := range wantRel {
				l := links[i].(map[string]any)
				if l["rel"] != rel {
					t.Fatalf("link %d rel %v, want %s", i, l["rel"], rel)
				}
			}
			if href := links[0].(map[string]any)["href"]; href != p+"/properties" {
				t.Fatalf("properties href %v", href)
			}
			ws := links[3].(map[string]any)["href"].(string)
			if !strings.HasPrefix(ws, "ws://") || !strings.HasSuffix(ws, root) {
				t.Fatalf("alternate %q", ws)
			}
			prop := td["properties"].(map[string]any)["brightness"].(map[string]any)
			if prop["links"].([]any)[0].(map[string]any)["href"] != p+"/properties/brightness" || prop["maximum"] != 100.0 {
				t.Fatalf("brightness %v", prop)
			}

			if b := h.must(200, "GET", p+"/properties/brightness", tokFull, ""); compact(b) != `{"brightness":50}` {
				t.Fatalf("GET property %s", b)
			}
			if b := h.must(200, "PUT", p+"/properties/brightness", tokFull, `{"brightness": 25}`); compact(b) != `{"brightness":25}` {
				t.Fatalf("PUT property %s", b)
			}
			h.must(400, "PUT", p+"/properties/brightness", tokFull, `{"on": true}`)
			h.must(400, "PUT", p+"/properties/brightness", tokFull, `{"brightness": 500}`)
			h.must(403, "PUT", p+"/properties/brightness", tokRead, `{"brightness": 1}`)
			all := decode[map[string]any](t, h.must(200, "GET", p+"/properties", tokFull, ""))
			if all["brightness"] != 25.0 || all["on"] != true {
				t.Fatalf("properties %v", all)
			}

			if b := h.must(200, "GET", p+"/actions", tokFull, ""); compact(b) != `[]` {
				t.Fatalf("actions %s", b)
			}
			h.must(400, "POST", p+"/actions", tokFull, `{"fade": {}}`)
			h.must(400, "POST", p+"/actions", tokFull, `{"fade": {"input": {}}}`)
			h.must(400, "POST", p+"/actions/fade", tokFull, `{"toggle": {}}`)
			h.must(404, "POST", p+"/actions", tokFull, `{"nope": {}}`)
			h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
				h.ad.Emit("urn:test:lamp", "overheated", 102)
				return nil, nil
			})
			created := decode[map[string]map[string]any](t, h.must(201, "POST", p+"/actions", tokFull, `{"fade": {"input": {"brightness": 50, "duration": 20}}}`))
			fade := created["fade"]
			href := fade["href"].(string)
			if fade["status"] != "created" || !strings.HasPrefix(href, p+"/actions/fade/") || !wtTime.MatchString(fade["timeRequested"].(string)) {
				t.Fatalf("created %v", fade)
			}
			waitFor(t, func() bool {
				d := decode[map[string]map[string]any](t, h.must(200, "GET", href, tokFull, ""))
				return d["fade"]["status"] == "completed" && wtTime.MatchString(d["fade"]["timeCompleted"].(string))
			})
			list := decode[[]map[string]map[string]any](t, h.must(200, "GET", p+"/actions/fade", tokFull, ""))
			if len(list) != 1 || list[0]["fade"]["href"] != href {
				t.Fatalf("action list %v", list)
			}
			h.must(204, "DELETE", href, tokFull, "")
			h.must(404, "GET", href, tokFull, "")
			events := decode[[]map[string]map[string]any](t, h.must(200, "GET", p+"/events", tokFull, ""))
			if len(events) != 1 || events[0]["overheated"]["data"] != 102.0 || !wtTime.MatchString(events[0]["overheated"]["timestamp"].(string)) {
				t.Fatalf("events %v", events)
			}
			if b := h.must(200, "GET", p+"/events/cooled", tokFull, ""); compact(b) != `[]` {
				t.Fatalf("cooled events %s", b)
			}

			// The WebSocket: setProperty, requestAction, addEventSubscription.
			c := h.dialWS(root, tokFull)
			sendWS(t, c, `{"messageType":"setProperty","data":{"brightness":10}}`)
			if msg := readWS(t, c); msg.MessageType != "propertyStatus" || string(msg.Data["brightness"]) != "10" {
				t.Fatalf("propertyStatus %+v", msg)
			}
			sendWS(t, c, `{"messageType":"addEventSubscription","data":{"overheated":{}}}`)
			sendWS(t, c, `{"messageType":"requestAction","data":{"fade":{"input":{"brightness":90,"duration":5}}}}`)
			var statuses []string
			gotEvent := false
			for len(statuses) < 3 || !gotEvent {
				msg := readWS(t, c)
				switch msg.MessageType {
				case "actionStatus":
					st := decode[map[string]any](t, msg.Data["fade"])
					statuses = append(statuses, st["status"].(string))
					if !strings.HasPrefix(st["href"].(string), p+"/actions/fade/") {
						t.Fatalf("actionStatus href %v", st["href"])
					}
				case "event":
					gotEvent = true
				default:
					t.Fatalf("unexpected %+v", msg)
				}
			}
			if strings.Join(statuses, ",") != "created,pending,completed" {
				t.Fatalf("action statuses %v", statuses)
			}
		})
	}
}

func TestWebThingsTrimmedAndInsecure(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	list := decode[[]map[string]any](t, h.must(200, "GET", "/", tokLamp2, ""))
	if len(list) != 1 || list[0]["id"] != "urn:test:lamp2" || list[0]["href"] != "/1" {
		t.Fatalf("lamp2 token lists %v", list)
	}
	h.must(403, "GET", "/0", tokLamp2, "")
	h.must(401, "GET", "/0", "", "")
	h.must(404, "GET", "/7", tokFull, "")
	h.must(404, "GET", "/01", tokFull, "")
	td := decode[map[string]any](t, h.must(200, "GET", "/0", tokRead, ""))
	props := td["properties"].(map[string]any)
	if len(props) != 1 || props["brightness"].(map[string]any)["readOnly"] != true || len(td["actions"].(map[string]any)) != 0 {
		t.Fatalf("trimmed legacy TD %v", td)
	}

	open := newHarness(t, gateway.Config{Authorizer: gateway.InsecureAllowAll(), WebThings: gateway.WebThings{Layout: gateway.WebThingsSingle}})
	td = decode[map[string]any](t, open.must(200, "GET", "/", "", ""))
	if td["security"] != "nosec_sc" {
		t.Fatalf("insecure TD security %v", td["security"])
	}
	c := open.dialWS("/", "")
	sendWS(t, c, `{"messageType":"setProperty","data":{"on":false}}`)
	if msg := readWS(t, c); msg.MessageType != "propertyStatus" {
		t.Fatalf("%+v", msg)
	}
	_ = time.Second
}
