package fedlearn

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// DialConfig says how a Client reaches a server over the network
// transport. URL and Token are required.
//
// Connect and FetchModel take a copy of a DialConfig, so one may be shared
// by concurrent calls; as crypto/tls requires, the tls.Config it points to
// must not be modified once in use.
type DialConfig struct {
	// URL is the server's HTTPHandler, as http(s):// or ws(s):// with or
	// without the trailing PathConnect: "https://resort.example/fl" and
	// "wss://resort.example/fl/v1/connect" are the same endpoint.
	URL string
	// Token is the bearer token that identifies this client.
	Token Token
	// Name is shown in the server's logs; it is not an identity.
	Name string
	// TLSConfig, when set, configures TLS (for example a private CA).
	TLSConfig *tls.Config
	// MinBackoff and MaxBackoff bound the randomised exponential wait
	// between reconnection attempts; zero means 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds connecting and joining; zero means 10 s.
	HandshakeTimeout time.Duration
	// Limits bounds decoded messages; zero fields mean wire's defaults.
	Limits wire.Limits
}

// Connect connects the client to a server's HTTPHandler and answers its
// requests until ctx is cancelled, reconnecting with randomised exponential
// back-off whenever the connection fails or the server restarts. It
// returns ctx.Err() when cancelled, or an error wrapping ErrUnauthorized
// (the server refused the token) or ErrProtocol (incompatible server)
// without retrying, as neither heals by waiting.
func (c *Client) Connect(ctx context.Context, cfg DialConfig) error {
	u, err := connectURL(cfg.URL)
	if err != nil {
		return err
	}
	if cfg.Token == "" {
		return fmt.Errorf("%w: no token", ErrConfig)
	}
	minB, maxB := cmp.Or(cfg.MinBackoff, 250*time.Millisecond), cmp.Or(cfg.MaxBackoff, 30*time.Second)
	backoff := minB
	for first := true; ; {
		joined, err := c.session(ctx, u, cfg, first)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrProtocol) && !joined {
			return err
		}
		if joined {
			first = false
			backoff = minB
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Info("fedlearn: connection lost; retrying", "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, maxB)
	}
}

// connectURL normalises a server URL to the WebSocket connect endpoint.
func connectURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: server URL: %v", ErrConfig, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("%w: server URL scheme %q", ErrConfig, u.Scheme)
	}
	if !strings.HasSuffix(u.Path, PathConnect) {
		u.Path = strings.TrimSuffix(u.Path, "/") + PathConnect
	}
	return u.String(), nil
}

// session runs one connection; joined reports whether the handshake
// succeeded.
func (c *Client) session(ctx context.Context, u string, cfg DialConfig, first bool) (joined bool, err error) {
	hto := cmp.Or(cfg.HandshakeTimeout, 10*time.Second)
	d := websocket.Dialer{TLSClientConfig: cfg.TLSConfig, HandshakeTimeout: hto, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	ws, resp, err := d.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + string(cfg.Token)}})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return false, fmt.Errorf("%w: server refused the token", ErrUnauthorized)
		}
		return false, err
	}
	limit := cfg.Limits.MaxBytes
	if limit <= 0 {
		limit = wire.DefaultMaxBytes
	}
	ws.SetReadLimit(int64(limit) + 1)
	conn := newWSConn("server", ws, 8, cfg.Limits)
	defer conn.close(ErrClosed)

	join := &wire.Message{Kind: wire.KindJoin, Text: cfg.Name, Config: map[string]any{keyProtocol: int64(ProtocolVersion)}}
	b, err := join.MarshalBinary()
	if err != nil {
		return false, err
	}
	ws.SetWriteDeadline(time.Now().Add(hto))
	if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return false, err
	}
	ws.SetReadDeadline(time.Now().Add(hto))
	reply, err := conn.readMessage()
	if err != nil {
		return false, err
	}
	if reply.Kind == wire.KindError {
		return false, fmt.Errorf("%w: join refused: %w", ErrProtocol, remoteError(reply))
	}
	ms, _ := reply.Config[keyHeartbeat].(int64)
	if reply.Kind != wire.KindJoin || ms <= 0 {
		return false, fmt.Errorf("%w: bad join reply", ErrProtocol)
	}
	hb := time.Duration(ms) * time.Millisecond
	c.count(func(s *ClientStats) {
		s.Connected = true
		if !first {
			s.Reconnects++
		}
	})
	defer c.count(func(s *ClientStats) { s.Connected = false })
	c.log.Info("fedlearn: connected", "server", u, "as", reply.Text)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-sctx.Done()
		conn.close(sctx.Err())
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	err = conn.run(hb, hto, func(m *wire.Message) error {
		if m.Kind != wire.KindFitRequest && m.Kind != wire.KindEvaluateRequest && m.Kind != wire.KindSecAgg {
			return fmt.Errorf("%w: unexpected %v from server", ErrProtocol, m.Kind)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.reply(sctx, conn, m)
		}()
		return nil
	})
	cancel()
	return true, err
}

// reply answers one request on conn.
func (c *Client) reply(ctx context.Context, conn *wsConn, req *wire.Message) {
	resp, err := c.Handle(ctx, req)
	if err == nil {
		resp.Seq = req.Seq
		if err = conn.send(ctx, resp); err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return
		}
		// The reply could not be encoded (say, a value overflowing
		// float32): report that instead.
		err = fmt.Errorf("%w: %w", ErrBadUpdate, err)
	}
	conn.send(ctx, errorMessage(req, err))
}

// FetchModel downloads the server's current global model from PathModel
// (losslessly, as float64), authenticated with cfg.Token, for inference on
// a gateway or a dashboard. It returns the parameters and the round they
// come from.
func FetchModel(ctx context.Context, cfg DialConfig) (params []float64, round int, err error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: server URL: %v", ErrConfig, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return nil, 0, fmt.Errorf("%w: server URL scheme %q", ErrConfig, u.Scheme)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, PathConnect), "/") + PathModel
	u.RawQuery = "dtype=float64"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+string(cfg.Token))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg.TLSConfig, Proxy: http.ProxyFromEnvironment}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, 0, fmt.Errorf("%w: server refused the token", ErrUnauthorized)
	default:
		return nil, 0, fmt.Errorf("fedlearn: fetching the model: %s", resp.Status)
	}
	limit := cfg.Limits.MaxBytes
	if limit <= 0 {
		limit = wire.DefaultMaxBytes
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, 0, err
	}
	if params, err = cfg.Limits.DecodeTensor(nil, b); err != nil {
		return nil, 0, fmt.Errorf("%w: model: %w", ErrProtocol, err)
	}
	round, err = strconv.Atoi(resp.Header.Get("Fedlearn-Round"))
	if err != nil || round < 0 {
		return nil, 0, fmt.Errorf("%w: bad Fedlearn-Round header", ErrProtocol)
	}
	return params, round, nil
}
