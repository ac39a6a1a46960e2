package gateway

import (
	"net/http"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// sseHeartbeat is how often an idle SSE stream sends a comment, so proxies
// and clients notice dead connections.
const sseHeartbeat = 25 * time.Second

// observeProperty serves observeproperty: an SSE stream of a property's
// new values ("data: <value>"). Closing the stream is unobserveproperty.
func (s *Server) observeProperty(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name string) {
	pi := e.prop(name)
	if !s.gate(w, r, c, pi != nil, access.Request{ThingID: id, Op: opNames[opObserveProperty], Name: name}) {
		return
	}
	if !pi.offer.has(opObserveProperty) {
		if pi.p.WriteOnly {
			s.fail(w, r, errWriteOnly)
		} else {
			writeProblem(w, http.StatusNotImplemented, "", "this property cannot be observed")
		}
		return
	}
	s.serveSSE(w, r, s.newStream(e, streamObserve, name, c, s.originOf(r)))
}

// subscribeEvents serves subscribeevent (name set: "data: <data>" per
// event) and subscribeallevents (name empty: "event: <name>" and "data:
// <data>" per event, only events whose subscribeevent is allowed too).
func (s *Server) subscribeEvents(w http.ResponseWriter, r *http.Request, c *caller, id string, e *entry, name string) {
	if name == "" {
		if !s.gate(w, r, c, e != nil, access.Request{ThingID: id, Op: opNames[opSubscribeAllEvents]}) {
			return
		}
		if !e.thingOffer.has(opSubscribeAllEvents) {
			writeProblem(w, http.StatusNotImplemented, "", "this thing has no events to subscribe to")
			return
		}
		s.serveSSE(w, r, s.newStream(e, streamAllEvents, "", c, s.originOf(r)))
		return
	}
	ei := e.event(name)
	if !s.gate(w, r, c, ei != nil, access.Request{ThingID: id, Op: opNames[opSubscribeEvent], Name: name}) {
		return
	}
	if !ei.offer.has(opSubscribeEvent) {
		writeProblem(w, http.StatusNotImplemented, "", "the adapter does not deliver events")
		return
	}
	s.serveSSE(w, r, s.newStream(e, streamEvent, name, c, s.originOf(r)))
}

// serveSSE runs an SSE stream until the client leaves or the stream is
// closed (revocation, expiry, slow consumer, shutdown). The handler's own
// goroutine is the stream's single writer.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, st *stream) {
	rc := http.NewResponseController(w)
	st.setHardStop(func() { rc.SetWriteDeadline(time.Now()) })
	if err := s.openStream(st); err != nil {
		s.streamRefused(w, r, st, err)
		return
	}
	defer s.closeStream(st)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && err != http.ErrNotSupported {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(": stream open\n\n")) {
		return
	}
	named := st.kind == streamAllEvents
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	var batch []*outMsg
	for {
		select {
		case <-st.done:
			return
		case <-r.Context().Done():
			return
		case <-beat.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case <-st.q.ready:
			batch = st.q.take(batch[:0])
			for i, m := range batch {
				batch[i] = nil
				select {
				case <-st.done:
					return
				default:
				}
				ok, err := st.permits(r.Context(), m)
				if st.authFailed(err) {
					return
				}
				if !ok {
					continue
				}
				if !write(m.sseFrame(named)) {
					return
				}
			}
		}
	}
}
