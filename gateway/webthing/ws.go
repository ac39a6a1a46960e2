package webthing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway"
)

// The WebThings WebSocket protocol: messages are JSON objects
// {"messageType": ..., "data": {...}}. In: propertyStatus (data maps
// property names to values), event (data maps event names to
// {"data": ..., "timestamp": ...}), actionStatus and error. Out:
// addEventSubscription (data maps event names to {}).

// wsMessage is a decoded WebThings WebSocket message.
type wsMessage struct {
	Type string
	Data map[string]json.RawMessage
}

// decodeMessage decodes a WebThings WebSocket message.
func decodeMessage(b []byte) (wsMessage, error) {
	var raw struct {
		MessageType string                     `json:"messageType"`
		Data        map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return wsMessage{}, protocolError("malformed WebSocket message: %v", err)
	}
	if raw.MessageType == "" {
		return wsMessage{}, protocolError("WebSocket message without messageType")
	}
	return wsMessage{Type: raw.MessageType, Data: raw.Data}, nil
}

// handleMessage delivers one WebSocket message from r to sink.
func (a *Adapter) handleMessage(r *remote, b []byte, sink gateway.Sink) {
	msg, err := decodeMessage(b)
	if err != nil {
		a.log.Debug("webthing: ignoring a WebSocket message", "thing", r.id, "err", err)
		return
	}
	switch msg.Type {
	case "propertyStatus":
		for _, name := range sortedKeys(msg.Data) {
			if _, known := r.props[name]; !known {
				continue
			}
			v, err := decodeJSON(msg.Data[name])
			if err != nil {
				a.log.Debug("webthing: ignoring a property value", "thing", r.id, "property", name, "err", err)
				continue
			}
			sink.PropertyChanged(r.id, name, v)
		}
	case "event":
		for _, name := range sortedKeys(msg.Data) {
			if _, known := r.local.Events[name]; !known {
				continue
			}
			var ev struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(msg.Data[name], &ev); err != nil {
				a.log.Debug("webthing: ignoring an event", "thing", r.id, "event", name, "err", err)
				continue
			}
			var v any
			if len(ev.Data) > 0 {
				if v, err = decodeJSON(ev.Data); err != nil {
					continue
				}
			}
			sink.Event(r.id, name, v)
		}
	case "error":
		a.log.Warn("webthing: remote reported an error", "thing", r.id, "message", string(b[:min(len(b), 200)]))
	default: // actionStatus and anything newer: actions are polled instead
	}
}

// watchWebSocket keeps a WebSocket connection to r open until ctx is done.
func (a *Adapter) watchWebSocket(ctx context.Context, r *remote, sink gateway.Sink) {
	a.reconnect(ctx, "WebSocket", r.id, func(ctx context.Context) error {
		return a.runWebSocket(ctx, r, sink)
	})
}

// runWebSocket runs one WebSocket connection to r.
func (a *Adapter) runWebSocket(ctx context.Context, r *remote, sink gateway.Sink) error {
	header := http.Header{}
	if r.token != "" {
		header.Set("Authorization", "Bearer "+string(r.token))
	}
	conn, resp, err := a.dialer.DialContext(ctx, r.ws.String(), header)
	if err != nil {
		if resp != nil {
			return &StatusError{Method: "GET", URL: redactURL(r.ws), Code: resp.StatusCode}
		}
		return unwrapURLError(err)
	}
	defer conn.Close()
	conn.SetReadLimit(a.cfg.MaxMessageBytes)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if len(r.events) > 0 {
		subs := map[string]struct{}{}
		for _, name := range r.events {
			subs[name] = struct{}{}
		}
		conn.SetWriteDeadline(time.Now().Add(a.cfg.Timeout))
		err := conn.WriteJSON(map[string]any{"messageType": "addEventSubscription", "data": subs})
		if err != nil {
			return err
		}
		conn.SetWriteDeadline(time.Time{})
	}

	ping := a.cfg.PingInterval
	if ping > 0 {
		alive := func() { conn.SetReadDeadline(time.Now().Add(2 * ping)) }
		alive()
		conn.SetPongHandler(func(string) error { alive(); return nil })
		done := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(done)
		wg.Go(func() {
			t := time.NewTicker(ping)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(a.cfg.Timeout)) != nil {
						return
					}
				}
			}
		})
	}
	a.log.Debug("webthing: WebSocket connected", "thing", r.id)
	for {
		typ, b, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				err = ErrTooLarge
			}
			return err
		}
		if ping > 0 {
			conn.SetReadDeadline(time.Now().Add(2 * ping))
		}
		if typ == websocket.TextMessage {
			a.handleMessage(r, b, sink)
		}
	}
}
