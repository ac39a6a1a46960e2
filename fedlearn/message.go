package fedlearn

import (
	"context"
	"fmt"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// Handler answers the server's requests on the client side of a
// connection. *Client implements it; a transport calls Handle for every
// request message it receives and sends back the reply (or, when Handle
// returns an error, a wire.KindError message carrying it).
//
// Handle may be called concurrently (a training request and a heartbeat or
// evaluation); implementations must be safe for concurrent use.
type Handler interface {
	Handle(ctx context.Context, req *wire.Message) (*wire.Message, error)
}

// Conn is the server's handle on one connected client: a request/reply
// channel. Transports implement it (see Local and HTTPHandler); a custom
// transport, for example over a message broker, implements it too and hands
// its connections to Server.Attach.
//
// Call sends req and waits for the reply with the same Seq until ctx is
// done. A reply of kind wire.KindError is returned as a *RemoteError.
// Calls may be concurrent; implementations must be safe for concurrent use.
type Conn interface {
	// ID identifies the client. It must be stable across reconnections and
	// should be authenticated (the network transport takes it from the
	// bearer token, never from the client's say-so).
	ID() string
	Call(ctx context.Context, req *wire.Message) (*wire.Message, error)
}

// Config keys of training requests on the wire; see # Protocol in the
// package documentation.
const (
	keyEpochs   = "epochs"
	keyBatch    = "batch"
	keyLR       = "lr"
	keyMomentum = "momentum"
	keyMu       = "mu"
	keySeed     = "seed"
	keyClip     = "clip"
)

// configToWire encodes a TrainConfig (and a required client clipping
// norm) as request Config entries.
func configToWire(c TrainConfig, clip float64) map[string]any {
	m := map[string]any{
		keyEpochs: int64(c.Epochs),
		keyBatch:  int64(c.BatchSize),
		keyLR:     c.LearningRate,
		keySeed:   int64(c.Seed),
	}
	if c.Momentum != 0 {
		m[keyMomentum] = c.Momentum
	}
	if c.ProxMu != 0 {
		m[keyMu] = c.ProxMu
	}
	if clip != 0 {
		m[keyClip] = clip
	}
	return m
}

// configFromWire decodes request Config entries; unknown keys are ignored so
// that newer servers can send more.
func configFromWire(round uint64, m map[string]any) (TrainConfig, float64, error) {
	c := TrainConfig{Round: int(round)}
	var clip float64
	geti := func(k string, dst *int) error {
		v, ok := m[k]
		if !ok {
			return nil
		}
		i, ok := v.(int64)
		if !ok || i < -1<<31 || i > 1<<31 {
			return fmt.Errorf("%w: config %q is %T %v", ErrProtocol, k, v, v)
		}
		*dst = int(i)
		return nil
	}
	getf := func(k string, dst *float64) error {
		v, ok := m[k]
		if !ok {
			return nil
		}
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%w: config %q is %T", ErrProtocol, k, v)
		}
		*dst = f
		return nil
	}
	for _, err := range []error{
		geti(keyEpochs, &c.Epochs), geti(keyBatch, &c.BatchSize),
		getf(keyLR, &c.LearningRate), getf(keyMomentum, &c.Momentum), getf(keyMu, &c.ProxMu),
		getf(keyClip, &clip),
	} {
		if err != nil {
			return c, 0, err
		}
	}
	if v, ok := m[keySeed]; ok {
		s, ok := v.(int64)
		if !ok {
			return c, 0, fmt.Errorf("%w: config %q is %T", ErrProtocol, keySeed, v)
		}
		c.Seed = uint64(s)
	}
	if clip < 0 {
		return c, 0, fmt.Errorf("%w: negative clipping norm %v", ErrProtocol, clip)
	}
	return c, clip, nil
}

// errorMessage turns err into a KindError reply to req.
func errorMessage(req *wire.Message, err error) *wire.Message {
	return &wire.Message{Kind: wire.KindError, Seq: req.Seq, Round: req.Round, Code: uint32(codeOf(err)), Text: err.Error()}
}

// remoteError turns a KindError message into a *RemoteError.
func remoteError(m *wire.Message) error {
	return &RemoteError{Code: ErrorCode(min(m.Code, 255)), Msg: m.Text}
}
