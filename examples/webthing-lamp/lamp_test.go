package main

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/gatewaytest"
)

func TestLampConforms(t *testing.T) {
	gatewaytest.TestAdapter(t, NewLamp())
}

func TestLampTD(t *testing.T) {
	for _, multi := range []bool{false, true} {
		gw, err := newGateway(multi, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(gw)
		path := "/"
		if multi {
			path = "/0"
		}
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var td struct {
			ID, Title, Security string
			Context             string `json:"@context"`
		}
		err = json.NewDecoder(resp.Body).Decode(&td)
		resp.Body.Close()
		ts.Close()
		gw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if td.ID != "urn:dev:ops:my-lamp-1234" || td.Title != "My Lamp" || td.Security != "nosec_sc" || td.Context != "https://webthings.io/schemas" {
			t.Fatalf("multi=%v: TD %+v", multi, td)
		}
	}
}

// TestConformance runs the WebThings conformance tester (test-client.py of
// github.com/WebThingsIO/webthing-tester, unmodified) against the lamp in
// both layouts. It needs the tester and a Python with tornado and
// websocket-client (Debian: python3-tornado python3-websocket):
//
//	HEARTH_WEBTHING_TESTER=/path/to/test-client.py [HEARTH_PYTHON=/usr/bin/python3] go test ./examples/webthing-lamp
func TestConformance(t *testing.T) {
	tester := os.Getenv("HEARTH_WEBTHING_TESTER")
	if tester == "" {
		t.Skip("set HEARTH_WEBTHING_TESTER to webthing-tester's test-client.py to run the WebThings conformance tester")
	}
	if testing.Short() {
		t.Skip("the conformance tester takes about 15 s")
	}
	python := os.Getenv("HEARTH_PYTHON")
	if python == "" {
		python = "python3"
	}
	for _, tc := range []struct {
		name   string
		multi  bool
		prefix []string
	}{
		{"single", false, nil},
		{"multi", true, []string{"--path-prefix", "/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, err := newGateway(tc.multi, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			args := append([]string{tester, "--host", "127.0.0.1", "--port", port}, tc.prefix...)
			out, err := exec.CommandContext(t.Context(), python, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("test-client.py %s: %v\n%s", strings.Join(args[1:], " "), err, out)
			}
			t.Logf("test-client.py %s: passed", strings.Join(args[1:], " "))
		})
	}
}
