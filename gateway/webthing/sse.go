package webthing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/gateway"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	Event string // the "event" field; empty means "message"
	Data  string // the "data" lines, joined by newlines
	ID    string
}

// sseReader parses a text/event-stream (the HTML Living Standard's
// "event stream interpretation"), bounding the size of each event.
type sseReader struct {
	r   *bufio.Reader
	max int // bytes per line and per event's data
	cr  bool
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// line reads one line, ended by CR, LF or CRLF, without its end.
func (s *sseReader) line() (string, error) {
	var b []byte
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return "", io.ErrUnexpectedEOF // an unterminated last line is discarded
			}
			return "", err
		}
		if s.cr {
			s.cr = false
			if c == '\n' {
				continue // the LF of a CRLF
			}
		}
		switch c {
		case '\r':
			s.cr = true
			return string(b), nil
		case '\n':
			return string(b), nil
		}
		if len(b) >= s.max {
			return "", fmt.Errorf("event stream line over %d bytes: %w", s.max, ErrTooLarge)
		}
		b = append(b, c)
	}
}

// Next returns the next event with data. Events without data are skipped,
// as the standard says.
func (s *sseReader) Next() (sseEvent, error) {
	var ev sseEvent
	var data strings.Builder
	hasData := false
	for {
		line, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if line == "" { // dispatch
			if hasData {
				ev.Data = data.String()
				return ev, nil
			}
			ev = sseEvent{}
			continue
		}
		if line[0] == ':' {
			continue // a comment (keep-alive)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Event = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			hasData = true
			if data.Len()+len(value) > s.max {
				return sseEvent{}, fmt.Errorf("event over %d bytes: %w", s.max, ErrTooLarge)
			}
			data.WriteString(value)
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.ID = value
			}
		}
	}
}

// watchSSE keeps an event stream of r open until ctx is done.
func (a *Adapter) watchSSE(ctx context.Context, r *remote, st stream, sink gateway.Sink) {
	what := "event stream " + st.url.Path
	a.reconnect(ctx, what, r.id, func(ctx context.Context) error {
		return a.runSSE(ctx, r, st, sink)
	})
}

// runSSE runs one event stream connection.
func (a *Adapter) runSSE(ctx context.Context, r *remote, st stream, sink gateway.Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(withHostRule(ctx, r.anyHost), st.method, st.url.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+string(r.token))
	}
	// The stream lives on, but its response headers must come in time.
	headers := time.AfterFunc(a.cfg.Timeout, cancel)
	resp, err := a.client.Do(req)
	if !headers.Stop() && err == nil {
		resp.Body.Close()
		return fmt.Errorf("webthing: %s: no response headers in %v", redactURL(st.url), a.cfg.Timeout)
	}
	if err != nil {
		return unwrapURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Method: st.method, URL: redactURL(st.url), Code: resp.StatusCode}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return protocolError("%s answered %q, not an event stream", redactURL(st.url), mt)
	}
	a.log.Debug("webthing: event stream connected", "thing", r.id, "url", redactURL(st.url))
	rd := newSSEReader(resp.Body, int(a.cfg.MaxMessageBytes))
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return protocolError("event stream ended")
			}
			return err
		}
		a.handleSSE(r, st, ev, sink)
	}
}
