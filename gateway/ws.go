package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, c *caller, e *entry) {
	st := s.newStream(e, streamWebSocket, "", c, s.originOf(r))
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	st.cancel = cancel // closing the stream cancels its adapter calls
	if err := s.openStream(st); err != nil {
		s.fail(w, r, err)
		return
	}
	defer s.closeStream(st)
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	st.setHardStop(func() { conn.NetConn().Close() })
	conn.SetReadLimit(s.cfg.MaxBodyBytes)

	readerDone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.wsWriter(st, conn, readerDone)
	}()

	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, websocket.ErrReadLimit) {
				if errors.Is(err, websocket.ErrReadLimit) {
					st.close(websocket.CloseMessageTooBig, "message too large")
				}
			}
			break
		}
		conn.SetReadDeadline(time.Now().Add(wsPongWait))
		if typ != websocket.TextMessage {
			st.reply(wsError(http.StatusBadRequest, "only text messages are understood"))
			continue
		}
		s.handleWSMessage(ctx, st, data)
		select {
		case <-st.done:
		default:
			continue
		}
		break
	}
	close(readerDone)
	st.close(websocket.CloseNormalClosure, "")
	<-writerDone
	conn.Close()
}

// setHardStop installs the function that cuts a stream's connection.
func (st *stream) setHardStop(f func()) {
	st.hardMu.Lock()
	st.hardStop = f
	st.hardMu.Unlock()
}

// wsWriter is the single writer of a WebSocket stream.
func (s *Server) wsWriter(st *stream, conn *websocket.Conn, readerDone <-chan struct{}) {
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	var batch []*outMsg
	for {
		select {
		case <-st.done:
			s.wsFinish(st, conn, readerDone)
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				st.close(closeGoingAway, "")
				s.wsFinish(st, conn, readerDone)
				return
			}
		case <-st.q.ready:
			batch = st.q.take(batch[:0])
			for i, m := range batch {
				batch[i] = nil
				select {
				case <-st.done:
					s.wsFinish(st, conn, readerDone)
					return
				default:
				}
				ok, err := st.permits(ctx, m)
				if st.authFailed(err) {
					s.wsFinish(st, conn, readerDone)
					return
				}
				if !ok {
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
					s.wsFinish(st, conn, readerDone)
					return
				}
			}
		}
	}
}

// wsFinish sends the close frame, gives the client a moment to answer, and
// cuts the connection.
func (s *Server) wsFinish(st *stream, conn *websocket.Conn, readerDone <-chan struct{}) {
	code, reason := st.code, st.reason
	if code != 0 {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wsCloseWait))
	}
	t := time.NewTimer(wsCloseWait)
	select {
	case <-readerDone:
	case <-t.C:
	}
	t.Stop()
	conn.NetConn().Close()
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
	_, err = s.startAction(e, ai, name, input, rawIn)
	return err
}
