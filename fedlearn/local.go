package fedlearn

import (
	"context"
	"fmt"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// Local returns a Conn that delivers requests to h within this process: the
// in-process transport, for simulations with hundreds of clients and for
// tests. Messages are passed by pointer, not encoded; request tensors are
// shared and must be treated as read-only by h (Client does).
//
// Attach the result to a Server: detach := srv.Attach(fedlearn.Local("c1", client)).
func Local(id string, h Handler) Conn { return &localConn{id: id, h: h} }

type localConn struct {
	id string
	h  Handler
}

func (c *localConn) ID() string { return c.id }

// Call runs the handler on its own goroutine so that ctx bounds the wait
// even when the handler ignores ctx; a reply that arrives after ctx is done
// is dropped.
func (c *localConn) Call(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	type result struct {
		msg *wire.Message
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("fedlearn: client %s panicked: %v", c.id, p)}
			}
		}()
		msg, err := c.h.Handle(ctx, req)
		ch <- result{msg, err}
	}()
	select {
	case r := <-ch:
		if r.err == nil && r.msg == nil {
			r.err = fmt.Errorf("%w: nil reply", ErrProtocol)
		}
		if r.err == nil && r.msg.Kind == wire.KindError {
			r.err = remoteError(r.msg)
		}
		if r.err == nil {
			r.msg.Seq = req.Seq
		}
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
