package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway/access"
)

const (
	wsPongWait   = 75 * time.Second // a client silent this long is gone
	wsPingPeriod = 30 * time.Second
	wsCloseWait  = time.Second // how long a closing stream waits for the client's close frame
)

// serveWebSocket runs a WebThings WebSocket for thing e: the client sends
// setProperty, requestAction and addEventSubscription messages and receives
// propertyStatus, actionStatus, event and error messages. The caller has
// checked that c may use the thing at all; every message is authorized
// again.
//
// After the upgrade the handler returns; the connection lives on in a
// reader goroutine and, only while there is something to send, a writer
// goroutine (never more than one), so an idle subscriber costs one
// goroutine.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, c *caller, e *entry) {
	st := s.newStream(e, streamWebSocket, "", c, s.originOf(r))
	ctx, cancel := context.WithCancel(s.ctx)
	st.cancel = cancel // closing the stream cancels its adapter calls
	ws := &wsConn{s: s, st: st, readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	ws.writing.Store(true) // no writer until the connection is up
	st.q.onReady = ws.kick
	st.onClose = ws.kick
	if err := s.openStream(st); err != nil {
		cancel()
		s.streamRefused(w, r, st, err)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		cancel()
		s.closeStream(st)
		return // the upgrader has answered
	}
	conn.SetReadLimit(s.cfg.MaxBodyBytes)
	ws.conn = conn
	ws.ping = time.AfterFunc(wsPingPeriod, ws.pingDue)
	st.setHardStop(func() { conn.NetConn().Close() })
	ws.writing.Store(false) // publishes conn and ping to writers
	if st.q.pending() || st.isClosed() {
		ws.kick()
	}
	go ws.read(ctx)
}

// wsConn is one WebThings WebSocket connection.
type wsConn struct {
	s          *Server
	st         *stream
	conn       *websocket.Conn
	ping       *time.Timer
	writing    atomic.Bool // a writer goroutine runs (or the connection is finished)
	batch      []*outMsg   // the writer's buffer (one writer at a time)
	pinging    atomic.Bool // a ping is due
	readerDone chan struct{}
	writerDone chan struct{} // closed when the closing writer has finished
}

// read is the connection's reader goroutine; it owns the stream's
// registration.
func (ws *wsConn) read(ctx context.Context) {
	st, conn := ws.st, ws.conn
	defer ws.s.closeStream(st)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				st.close(websocket.CloseMessageTooBig, "message too large")
			}
			break
		}
		conn.SetReadDeadline(time.Now().Add(wsPongWait))
		if typ != websocket.TextMessage {
			st.reply(wsError(http.StatusBadRequest, "only text messages are understood"))
			continue
		}
		ws.s.handleWSMessage(ctx, st, data)
		if st.isClosed() {
			break
		}
	}
	close(ws.readerDone)
	st.close(websocket.CloseNormalClosure, "")
	<-ws.writerDone
	ws.ping.Stop()
	conn.Close()
}

func (ws *wsConn) pingDue() {
	ws.pinging.Store(true)
	ws.kick()
}

// kick starts the writer goroutine unless one runs.
func (ws *wsConn) kick() {
	if ws.writing.CompareAndSwap(false, true) {
		go ws.write()
	}
}

// write is the connection's writer: it sends what is queued (and a due
// ping) and exits when nothing is left; when the stream closes, it sends
// the close frame and finishes the connection.
func (ws *wsConn) write() {
	s, st, conn := ws.s, ws.st, ws.conn
	batch := ws.batch
	for {
		if st.isClosed() {
			ws.finish()
			return // writing stays true: no writer starts again
		}
		if ws.pinging.Swap(false) {
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				st.close(closeGoingAway, "")
				continue
			}
			ws.ping.Reset(wsPingPeriod)
		}
		batch = st.q.take(batch[:0])
		if len(batch) == 0 {
			ws.batch = batch // handed to the next writer with the flag
			ws.writing.Store(false)
			if (st.q.pending() || ws.pinging.Load() || st.isClosed()) && ws.writing.CompareAndSwap(false, true) {
				batch = ws.batch
				continue
			}
			return
		}
		for i, m := range batch {
			batch[i] = nil
			if st.isClosed() {
				break
			}
			ok, err := st.permits(s.ctx, m)
			if st.authFailed(err) || !ok {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if st.o.prefix == "" || m.kind != msgAction {
				var pm *websocket.PreparedMessage
				if pm, err = m.prepared(s); err == nil {
					err = conn.WritePreparedMessage(pm)
				}
			} else {
				err = conn.WriteMessage(websocket.TextMessage, m.legacyJSON(s, st.o.prefix))
			}
			if err != nil {
				st.close(closeGoingAway, "")
			}
		}
	}
}

// finish sends the close frame, gives the client a moment to answer, and
// cuts the connection.
func (ws *wsConn) finish() {
	defer close(ws.writerDone)
	st := ws.st
	if st.code != 0 {
		ws.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(st.code, st.reason), time.Now().Add(wsCloseWait))
	}
	t := time.NewTimer(wsCloseWait)
	select {
	case <-ws.readerDone:
	case <-t.C:
	}
	t.Stop()
	ws.conn.NetConn().Close()
}

// reply queues a message for this client only.
func (st *stream) reply(b []byte) {
	if !st.q.push(&outMsg{kind: msgDirect, e: st.e, direct: b}) {
		st.close(closeTryLater, "slow consumer")
	}
}

// wsError encodes a WebThings error message.
func wsError(status int, msg string) []byte {
	b, _ := json.Marshal(map[string]any{
		"messageType": "error",
		"data": map[string]string{
			"status":  fmt.Sprintf("%d %s", status, http.StatusText(status)),
			"message": msg,
		},
	})
	return b
}

// wsFail replies with the error for err, closing the stream when the token
// is no longer acceptable. It reports whether the stream closed.
func (s *Server) wsFail(st *stream, err error) bool {
	switch {
	case errors.Is(err, errForbidden):
		st.reply(wsError(http.StatusForbidden, "insufficient_scope"))
	case errors.Is(err, access.ErrInvalidToken):
		st.reply(wsError(http.StatusUnauthorized, "invalid_token"))
		st.close(closePolicy, "token no longer valid")
		return true
	default:
		status := statusOf(err)
		msg := err.Error()
		switch status {
		case http.StatusBadGateway:
			s.log.Warn("gateway: device failure", "thing", st.e.id, "err", err)
			msg = "the device failed"
		case http.StatusGatewayTimeout:
			msg = "the device did not answer in time"
		}
		var au *authUnavailable
		if errors.As(err, &au) {
			status, msg = http.StatusServiceUnavailable, "authorization is unavailable"
		}
		st.reply(wsError(status, msg))
	}
	return false
}

// authUnavailable wraps an Authorizer's internal failure.
type authUnavailable struct{ err error }

func (e *authUnavailable) Error() string { return "gateway: authorizer failed: " + e.err.Error() }
func (e *authUnavailable) Unwrap() error { return e.err }

// wsAuthorize authorizes a WebSocket message's request.
func (s *Server) wsAuthorize(ctx context.Context, st *stream, op opIndex, name string) error {
	ok, err := s.authorize(ctx, &st.c, access.Request{ThingID: st.e.id, Op: opNames[op], Name: name})
	switch {
	case errors.Is(err, access.ErrInvalidToken):
		return err
	case err != nil:
		s.log.Error("gateway: authorizer failed", "err", err)
		return &authUnavailable{err}
	case !ok:
		return errForbidden
	}
	return nil
}

// handleWSMessage carries out one client message. Errors go back to the
// client as error messages; nothing in a rejected item is applied.
func (s *Server) handleWSMessage(ctx context.Context, st *stream, data []byte) {
	msg, err := decodeWSMessage(data)
	if err != nil {
		st.reply(wsError(http.StatusBadRequest, "parsing the message failed: "+err.Error()))
		return
	}
	e := st.e
	names := make([]string, 0, len(msg.Data))
	for n := range msg.Data {
		names = append(names, n)
	}
	slices.Sort(names)
	switch msg.Type {
	case "setProperty":
		for _, name := range names {
			if err := s.wsSetProperty(ctx, st, name, msg.Data[name]); err != nil {
				if s.wsFail(st, err) {
					return
				}
			}
		}
	case "requestAction":
		for _, name := range names {
			if err := s.wsRequestAction(ctx, st, name, msg.Data[name]); err != nil {
				if s.wsFail(st, err) {
					return
				}
			}
		}
	case "addEventSubscription":
		for _, name := range names {
			if err := s.wsAuthorize(ctx, st, opSubscribeEvent, name); err != nil {
				if s.wsFail(st, err) {
					return
				}
				continue
			}
			ei := e.events[name]
			if ei == nil {
				s.wsFail(st, fmt.Errorf("%w: event %q", ErrNotFound, name))
				continue
			}
			if !ei.offer.has(opSubscribeEvent) {
				s.wsFail(st, fmt.Errorf("%w: the adapter does not deliver events", ErrNotSupported))
				continue
			}
			st.subMu.Lock()
			if !st.subs[name] && len(st.subs) >= s.cfg.MaxSubscriptions {
				st.subMu.Unlock()
				st.reply(wsError(http.StatusTooManyRequests, fmt.Sprintf("at most %d subscriptions per connection", s.cfg.MaxSubscriptions)))
				continue
			}
			if st.subs == nil {
				st.subs = make(map[string]bool)
			}
			st.subs[name] = true
			st.subMu.Unlock()
		}
	default:
		st.reply(wsError(http.StatusBadRequest, fmt.Sprintf("unknown messageType %q", msg.Type)))
	}
}

func (s *Server) wsSetProperty(ctx context.Context, st *stream, name string, raw json.RawMessage) error {
	if err := s.wsAuthorize(ctx, st, opWriteProperty, name); err != nil {
		return err
	}
	e := st.e
	pi := e.props[name]
	if pi == nil {
		return fmt.Errorf("%w: property %q", ErrNotFound, name)
	}
	if err := checkWritable(e, pi); err != nil {
		return err
	}
	v, err := decodeValue(raw, pi.schema)
	if err != nil {
		return err
	}
	return s.writeValue(ctx, e, name, v)
}

func (s *Server) wsRequestAction(ctx context.Context, st *stream, name string, raw json.RawMessage) error {
	if err := s.wsAuthorize(ctx, st, opInvokeAction, name); err != nil {
		return err
	}
	e := st.e
	ai := e.actions[name]
	if ai == nil {
		return fmt.Errorf("%w: action %q", ErrNotFound, name)
	}
	params, err := decodeObject(raw)
	if err != nil {
		return err
	}
	in, has := params["input"]
	input, rawIn, err := decodeActionInput(ai, actionRequest{name: name, input: in, hasInput: has})
	if err != nil {
		return err
	}
	_, err = s.startAction(&st.c, e, ai, name, input, rawIn)
	return err
}
