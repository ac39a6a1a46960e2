package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// adapterSink is the Sink the Server gives one EventSource adapter. It
// accepts news only about the adapter's own things.
type adapterSink struct {
	s  *Server
	ad *adapterState
}

var _ LiveSink = (*adapterSink)(nil)

func (k *adapterSink) entry(id string) *entry {
	e := k.s.reg.get(id)
	if e == nil || e.ad != k.ad {
		return nil
	}
	return e
}

func (k *adapterSink) PropertyChanged(thingID, name string, value any) {
	e := k.entry(thingID)
	if e == nil || e.props[name] == nil {
		k.s.log.Debug("gateway: change of an unknown property dropped", "thing", thingID, "property", name)
		return
	}
	k.s.propertyChanged(e, name, value)
}

func (k *adapterSink) Event(thingID, name string, data any) {
	e := k.entry(thingID)
	if e == nil || e.events[name] == nil {
		k.s.log.Debug("gateway: unknown event dropped", "thing", thingID, "event", name)
		return
	}
	k.s.event(e, name, data)
}

func (k *adapterSink) ThingAdded(td *thing.Description) {
	if td == nil {
		k.s.log.Warn("gateway: thing not added", "err", "nil Thing Description")
		return
	}
	k.s.announce(k.ad, announcement{id: td.ID, td: td})
}

func (k *adapterSink) ThingRemoved(thingID string) {
	k.s.announce(k.ad, announcement{id: thingID})
}

// Live implements LiveSink: it lists the adapter's things again, now that
// every later change reaches the Sink.
func (k *adapterSink) Live() {
	ctx, cancel := context.WithTimeout(k.ad.subCtx, k.s.cfg.DeviceTimeout)
	defer cancel()
	if err := k.s.list(ctx, k.ad); err != nil && ctx.Err() == nil {
		k.s.log.Warn("gateway: listing things after subscribing", "err", err)
	}
}

// propertyChanged records a property's new value and tells its observers,
// unless it equals the last value seen (so a write followed by the device's
// own report of it notifies once).
func (s *Server) propertyChanged(e *entry, name string, value any) {
	b, err := json.Marshal(value)
	if err != nil {
		s.log.Warn("gateway: unencodable property value dropped", "thing", e.id, "property", name, "err", err)
		return
	}
	now := time.Now()
	e.mu.Lock()
	if e.gone || bytes.Equal(e.last[name], b) {
		e.mu.Unlock()
		return
	}
	e.last[name] = b
	// Fan out under e.mu so that observers see a property's values in the
	// order they were recorded.
	s.broadcast(&outMsg{kind: msgProperty, e: e, name: name, value: b, at: now})
	e.mu.Unlock()
	s.recordHistory(e, name, b, now)
}

// event logs an event and tells its subscribers.
func (s *Server) event(e *entry, name string, data any) {
	var b json.RawMessage
	if data != nil {
		var err error
		if b, err = json.Marshal(data); err != nil {
			s.log.Warn("gateway: unencodable event data dropped", "thing", e.id, "event", name, "err", err)
			return
		}
	}
	m := &outMsg{kind: msgEvent, e: e, name: name, value: b, at: time.Now()}
	e.evlog.add(m)
	s.broadcast(m)
}

// actionChanged tells the WebSocket clients of a thing that an action
// request changed state.
func (s *Server) actionChanged(e *entry, snap *actionRec) {
	s.broadcast(&outMsg{kind: msgAction, e: e, name: snap.name, action: snap, at: time.Now()})
}

// eventLog keeps a thing's last events for the WebThings API: at most
// limit of them, none older than retention.
type eventLog struct {
	mu        sync.Mutex
	limit     int
	retention time.Duration
	ring      []*outMsg // oldest first
}

func (l *eventLog) add(m *outMsg) {
	if l.limit <= 0 {
		return
	}
	l.mu.Lock()
	l.pruneLocked(m.at)
	if len(l.ring) >= l.limit {
		copy(l.ring, l.ring[1:])
		l.ring[len(l.ring)-1] = m
	} else {
		l.ring = append(l.ring, m)
	}
	l.mu.Unlock()
}

// pruneLocked forgets the events older than now-retention.
func (l *eventLog) pruneLocked(now time.Time) {
	cutoff := now.Add(-l.retention)
	i := 0
	for i < len(l.ring) && l.ring[i].at.Before(cutoff) {
		i++
	}
	if i > 0 {
		n := copy(l.ring, l.ring[i:])
		clear(l.ring[n:])
		l.ring = l.ring[:n]
	}
}

// clear forgets every event.
func (l *eventLog) clear() {
	l.mu.Lock()
	clear(l.ring)
	l.ring = l.ring[:0]
	l.mu.Unlock()
}

// list returns the logged events named name (every event for "").
func (l *eventLog) list(name string) []*outMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(time.Now())
	var out []*outMsg
	for _, m := range l.ring {
		if name == "" || m.name == name {
			out = append(out, m)
		}
	}
	return out
}
