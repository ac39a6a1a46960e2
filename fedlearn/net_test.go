package fedlearn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// netEnv is a Server behind an HTTPHandler on a loopback httptest server.
type netEnv struct {
	srv    *Server
	h      *HTTPHandler
	ts     *httptest.Server
	tokens map[Token]string
}

func testTokens(n int) map[Token]string {
	m := map[Token]string{}
	for i := range n {
		m[Token(fmt.Sprintf("secret-%d", i))] = fmt.Sprintf("home-%02d", i)
	}
	return m
}

func startNet(t testing.TB, srv *Server, tokens map[Token]string, hc HTTPConfig, ln net.Listener) *netEnv {
	t.Helper()
	auth, err := NewStaticTokens(tokens)
	if err != nil {
		t.Fatal(err)
	}
	hc.Auth = auth
	h, err := NewHTTPHandler(srv, hc)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	if ln != nil {
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	e := &netEnv{srv: srv, h: h, ts: ts, tokens: tokens}
	t.Cleanup(e.stop)
	return e
}

func (e *netEnv) stop() {
	e.h.Close()
	e.ts.Close()
}

// connect runs c.Connect in the background until the test ends or the
// returned cancel is called; the Connect error is sent on the channel.
func connect(t testing.TB, c *Client, url string, tok Token) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Connect(ctx, DialConfig{URL: url, Token: tok, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, done
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNetworkRounds(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 1000), Rounds: 2, FractionFit: 1, MinAvailable: 3, PlaintextUpdates: true})
	env := startNet(t, srv, testTokens(3), HTTPConfig{}, nil)
	var clients []*Client
	for tok := range env.tokens {
		c := mustClient(t, shift(0.5, 10), ClientConfig{ShareMetrics: true})
		clients = append(clients, c)
		connect(t, c, env.ts.URL, tok)
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, v := range srv.Params() {
		if v != 1 {
			t.Fatalf("params %v..., want 1 after two rounds of +0.5", srv.Params()[:3])
		}
	}
	if got := srv.Clients(); !slices.Equal(got, []string{"home-00", "home-01", "home-02"}) {
		t.Errorf("clients %v: IDs must come from the tokens", got)
	}
	for _, c := range clients {
		if s := c.Stats(); s.Trained != 2 || !s.Connected {
			t.Errorf("client stats %+v", s)
		}
	}

	// The model and history endpoints.
	params, round, err := FetchModel(t.Context(), DialConfig{URL: env.ts.URL + PathConnect, Token: "secret-0"})
	if err != nil || round != 2 || !slices.Equal(params, srv.Params()) {
		t.Errorf("FetchModel: round %d, err %v", round, err)
	}
	if _, _, err := FetchModel(t.Context(), DialConfig{URL: env.ts.URL, Token: "nope"}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("FetchModel with a bad token: %v", err)
	}
	req, _ := http.NewRequest("GET", env.ts.URL+PathModel+"?dtype=float64", nil)
	req.Header.Set("Authorization", "Bearer secret-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p, err := wire.DecodeTensor(nil, b)
	if err != nil || len(p) != 1000 || p[0] != 1 || resp.Header.Get("Fedlearn-Round") != "2" {
		t.Errorf("model: %d params, err %v, round %q", len(p), err, resp.Header.Get("Fedlearn-Round"))
	}
	req, _ = http.NewRequest("GET", env.ts.URL+PathHistory, nil)
	req.Header.Set("Authorization", "Bearer secret-2")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hist []RoundRecord
	err = json.NewDecoder(resp.Body).Decode(&hist)
	resp.Body.Close()
	if err != nil || len(hist) != 2 || hist[1].Accepted != 3 {
		t.Errorf("history %+v, err %v", hist, err)
	}
}

func TestNetworkUnauthorized(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}})
	env := startNet(t, srv, testTokens(1), HTTPConfig{}, nil)
	for _, path := range []string{PathModel, PathHistory, PathConnect} {
		req, _ := http.NewRequest("GET", env.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
	}
	c := mustClient(t, shift(1, 1), ClientConfig{})
	err := c.Connect(t.Context(), DialConfig{URL: env.ts.URL, Token: "wrong"})
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Connect with a bad token = %v, want ErrUnauthorized", err)
	}
}

// rawJoin dials the connect endpoint and performs the join handshake by
// hand, for clients that misbehave.
func rawJoin(t *testing.T, env *netEnv, tok Token, version int64) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(env.ts.URL, "http")+PathConnect,
		http.Header{"Authorization": {"Bearer " + string(tok)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	b, _ := (&wire.Message{Kind: wire.KindJoin, Config: map[string]any{keyProtocol: version}}).MarshalBinary()
	if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestNetworkProtocolVersion(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}})
	env := startNet(t, srv, testTokens(1), HTTPConfig{}, nil)
	ws := rawJoin(t, env, "secret-0", 99)
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Unmarshal(b)
	if err != nil || m.Kind != wire.KindError || ErrorCode(m.Code) != CodeProtocol {
		t.Errorf("reply %+v, err %v: want a protocol error", m, err)
	}
	if len(srv.Clients()) != 0 {
		t.Error("a client with the wrong protocol was attached")
	}
}

func TestNetworkDeadClientDropped(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}})
	env := startNet(t, srv, testTokens(1), HTTPConfig{Heartbeat: 20 * time.Millisecond}, nil)
	ws := rawJoin(t, env, "secret-0", ProtocolVersion)
	if _, _, err := ws.ReadMessage(); err != nil { // the join reply
		t.Fatal(err)
	}
	waitFor(t, "attach", func() bool { return len(srv.Clients()) == 1 })
	// The client now goes silent (no heartbeats): dropped after 3 intervals.
	waitFor(t, "detach of a silent client", func() bool { return len(srv.Clients()) == 0 })
}

func TestNetworkClientKilledMidRound(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 10), Rounds: 1, FractionFit: 1, MinAvailable: 3, MinCohort: 2, RoundTimeout: time.Hour})
	env := startNet(t, srv, testTokens(3), HTTPConfig{}, nil)
	started := make(chan struct{})
	var once sync.Once
	block := TrainFunc(func(ctx context.Context, g []float64, c TrainConfig) (TrainResult, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return TrainResult{}, ctx.Err()
	})
	kill, _ := connect(t, mustClient(t, block, ClientConfig{}), env.ts.URL, "secret-0")
	connect(t, mustClient(t, shift(1, 1), ClientConfig{}), env.ts.URL, "secret-1")
	connect(t, mustClient(t, shift(1, 1), ClientConfig{}), env.ts.URL, "secret-2")
	go func() {
		<-started
		kill() // the process dies mid-training: its connection drops
	}()
	if err := srv.Run(t.Context()); err != nil { // would take an hour if it stalled
		t.Fatal(err)
	}
	if r := srv.History()[0]; r.Accepted != 2 || r.Failed != 1 || !r.Released() {
		t.Errorf("record %+v", r)
	}
}

func TestNetworkCorruptReplyRejected(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 4), Rounds: 1, FractionFit: 1, MinAvailable: 3, MinCohort: 2, RoundTimeout: time.Hour})
	env := startNet(t, srv, testTokens(3), HTTPConfig{}, nil)
	connect(t, mustClient(t, shift(1, 1), ClientConfig{}), env.ts.URL, "secret-0")
	connect(t, mustClient(t, shift(1, 1), ClientConfig{}), env.ts.URL, "secret-1")
	ws := rawJoin(t, env, "secret-2", ProtocolVersion)
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			m, err := wire.Unmarshal(b)
			if err != nil || m.Kind != wire.KindFitRequest {
				continue
			}
			r := &wire.Message{Kind: wire.KindFitResult, Seq: m.Seq, Round: m.Round, Samples: 1, Tensors: [][]float64{{9, 9, 9, 9}}}
			out, _ := r.MarshalBinary()
			out[len(out)-6] ^= 0xff // flip bits inside the tensor: checksum fails
			ws.WriteMessage(websocket.BinaryMessage, out)
		}
	}()
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := srv.History()[0]
	if r.Accepted != 2 || r.Failed != 1 || srv.Params()[0] != 1 {
		t.Errorf("record %+v params %v", r, srv.Params())
	}
}

func TestNetworkServerRestartResumes(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	tokens := testTokens(2)
	cfg := func(rounds int) ServerConfig {
		return ServerConfig{Params: make([]float64, 8), Rounds: rounds, FractionFit: 1, MinCohort: 2, CheckpointDir: dir, Strategy: &FedAvgM{}}
	}
	srv1 := mustServer(t, cfg(2))
	env1 := startNet(t, srv1, tokens, HTTPConfig{}, ln)
	var clients []*Client
	for tok := range tokens {
		c := mustClient(t, shift(1, 1), ClientConfig{})
		clients = append(clients, c)
		connect(t, c, "http://"+addr, tok)
	}
	if err := srv1.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := srv1.Params()
	env1.stop() // the server process goes away

	// A new process on the same address resumes from the checkpoint and
	// the clients find it again on their own.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", addr, err)
	}
	srv2 := mustServer(t, cfg(4))
	if srv2.Round() != 2 || !slices.Equal(srv2.Params(), want) {
		t.Fatalf("resumed at round %d", srv2.Round())
	}
	startNet(t, srv2, tokens, HTTPConfig{}, ln2)
	if err := srv2.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv2.History(); len(got) != 4 || !got[3].Released() {
		t.Errorf("history %+v", got)
	}
	for _, c := range clients {
		if s := c.Stats(); s.Reconnects < 1 || s.Trained != 4 {
			t.Errorf("client stats %+v, want a reconnect and 4 updates", s)
		}
	}
}

func TestConnectURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h/fl":               "ws://h/fl/v1/connect",
		"https://h/fl/":             "wss://h/fl/v1/connect",
		"wss://h/fl/v1/connect":     "wss://h/fl/v1/connect",
		"http://127.0.0.1:80":       "ws://127.0.0.1:80/v1/connect",
		"ws://h/v1/connect?x=1":     "ws://h/v1/connect?x=1",
		"https://h:8443/a/b/c/path": "wss://h:8443/a/b/c/path/v1/connect",
	} {
		if got, err := connectURL(in); err != nil || got != want {
			t.Errorf("connectURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := connectURL("ftp://h"); !errors.Is(err, ErrConfig) {
		t.Errorf("ftp: err = %v", err)
	}
}

func TestNetworkDeclineIsReported(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 3), Rounds: 1, FractionFit: 1, MinAvailable: 4})
	env := startNet(t, srv, testTokens(4), HTTPConfig{}, nil)
	no := ConsentFunc(func(context.Context) bool { return false })
	i := 0
	for tok := range env.tokens {
		cfg := ClientConfig{}
		if i == 0 {
			cfg.Consent = no
		}
		connect(t, mustClient(t, shift(1, 1), cfg), env.ts.URL, tok)
		i++
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The refusal crossed the network as an error code and is counted as
	// a decline, not a failure.
	if r := srv.History()[0]; r.Declined != 1 || r.Accepted != 3 || r.Failed != 0 {
		t.Errorf("record %+v", r)
	}
}
