package fedlearn

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// SecAggConfig turns on secure aggregation (package secagg: Bonawitz et
// al. 2017 with SecAgg+'s sparse graph as an option): the server learns
// only the sum of the cohort's updates, never one household's. Clients
// clip their updates to ClipNorm, append their weight, mask them with
// pairwise X25519-agreed masks and Shamir-share their secrets so that the
// sum can be unmasked even when some drop out.
//
// NewServer copies a SecAggConfig, so it may be reused or changed
// afterwards; it is not safe for a write concurrent with that call.
type SecAggConfig struct {
	// ClipNorm is the L2 norm clients clip their updates to, which also
	// bounds each coordinate for fixed-point quantization. Zero means the
	// central-DP ClipNorm when Privacy is set, otherwise DefaultClipNorm.
	ClipNorm float64
	// Neighbors is SecAgg+'s graph degree k; zero means the complete
	// graph (every client masks against every other). Use a few times
	// log2(m) for cohorts of hundreds or thousands.
	Neighbors int
	// Threshold is t, the number of a client's neighbours needed to
	// recover its secrets; zero means a strict majority.
	Threshold int
	// StageTimeout bounds each of the protocol's four exchanges; clients
	// that miss it are dropped. Zero means one minute.
	StageTimeout time.Duration
}

// Config keys of a secure-aggregation training request.
const (
	keySecAgg    = "secagg"     // bool: answer with a secure-aggregation run
	keySecAggID  = "secagg_id"  // int64: the client's ID in the run, 1..m
	keySecAggCap = "secagg_cap" // int64: sample count of weight 1; 0 = unweighted
)

// secAggFrom returns the sender a client's secure-aggregation message
// names, or 0 for server messages.
func secAggFrom(m secagg.Message) secagg.ID {
	switch m := m.(type) {
	case *secagg.Advertise:
		return m.From
	case *secagg.Shares:
		return m.From
	case *secagg.MaskedInput:
		return m.From
	case *secagg.Reveal:
		return m.From
	}
	return 0
}

// secureAggregate runs the secure-aggregation protocol with the clients
// that trained (ready, by the ID they were given in the training request)
// and returns the mean update and the number of clients in it.
func (s *Server) secureAggregate(ctx context.Context, round int, ready map[secagg.ID]Conn) ([]float64, int, error) {
	sc := s.cfg.SecureAggregation
	clip := s.secAggClip()
	sa, err := secagg.NewServer(secagg.ServerConfig{
		Length:     s.n + 1,
		Clip:       max(clip, 1), // updates are within clip, weights within 1
		MaxClients: len(ready),
		Neighbors:  sc.Neighbors,
		Threshold:  sc.Threshold,
		MinClients: min(max(s.cfg.MinCohort, s.cfg.Quorum), len(ready)),
		Logger:     s.log,
	})
	if err != nil {
		return nil, 0, err
	}
	byID := ready
	out := make(map[secagg.ID]secagg.Message, len(ready))
	for id := range ready {
		out[id] = sa.Begin()
	}
	for sa.Stage() < secagg.StageDone {
		s.secAggStage(ctx, round, sa, out, byID)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if out, err = sa.Advance(); err != nil {
			return nil, 0, err
		}
	}
	res, err := sa.Result()
	if err != nil {
		return nil, 0, err
	}
	weight := res.Sum[s.n]
	if !(weight > 0) {
		return nil, 0, fmt.Errorf("%w: secure sum has weight %v", ErrBadUpdate, weight)
	}
	mean := res.Sum[:s.n]
	for i := range mean {
		mean[i] /= weight
	}
	return mean, len(res.Clients), nil
}

// secAggClip is the clipping norm of secure-aggregation rounds, filled in
// by NewServer.
func (s *Server) secAggClip() float64 {
	return s.cfg.SecureAggregation.ClipNorm
}

// secAggStage delivers one stage's messages and feeds the replies to sa,
// returning when every recipient has answered or the stage deadline has
// passed.
func (s *Server) secAggStage(ctx context.Context, round int, sa *secagg.Server, out map[secagg.ID]secagg.Message, byID map[secagg.ID]Conn) {
	sctx, cancel := context.WithTimeout(ctx, cmp.Or(s.cfg.SecureAggregation.StageTimeout, time.Minute))
	defer cancel()
	var wg sync.WaitGroup
	for id, m := range out {
		c := byID[id]
		if c == nil {
			continue
		}
		wg.Go(func() {
			reply, err := c.Call(sctx, &wire.Message{Kind: wire.KindSecAgg, Round: uint64(round), SecAgg: m})
			switch {
			case err != nil:
				s.log.Info("fedlearn: secure aggregation: client dropped", "round", round, "client", c.ID(), "stage", sa.Stage(), "err", err)
				return
			case reply.Kind != wire.KindSecAgg || reply.SecAgg == nil:
				s.log.Warn("fedlearn: secure aggregation: bad reply", "round", round, "client", c.ID(), "kind", reply.Kind)
				return
			case secAggFrom(reply.SecAgg) != id:
				// A client may only speak for itself.
				s.log.Warn("fedlearn: secure aggregation: reply names another sender", "round", round, "client", c.ID())
				return
			}
			if err := sa.Receive(reply.SecAgg); err != nil {
				s.log.Warn("fedlearn: secure aggregation: reply refused", "round", round, "client", c.ID(), "err", err)
			}
		})
	}
	wg.Wait()
}

// checkReady validates a client's answer to a secure-aggregation training
// request: an acknowledgement without tensors (the update is held back for
// masking).
func (s *Server) checkReady(round int, msg *wire.Message, err error) error {
	switch {
	case err != nil:
		return err
	case msg == nil || msg.Kind != wire.KindFitResult:
		return fmt.Errorf("%w: reply is not a fit result", ErrProtocol)
	case msg.Round != uint64(round):
		return fmt.Errorf("%w: reply for round %d in round %d", ErrBadUpdate, msg.Round, round)
	case len(msg.Tensors) != 0:
		return fmt.Errorf("%w: plain update in a secure-aggregation round", ErrBadUpdate)
	}
	return nil
}

// secAggRun is a client's side of one round's secure aggregation.
type secAggRun struct {
	round uint64
	sc    *secagg.Client
}

// prepareSecAgg turns a client's clipped update into its secure-aggregation
// input: the update times the client's weight, followed by the weight.
func (c *Client) prepareSecAgg(req *wire.Message, delta []float64, samples int) error {
	id, _ := req.Config[keySecAggID].(int64)
	capN, _ := req.Config[keySecAggCap].(int64)
	if id <= 0 || id > math.MaxUint32 || capN < 0 {
		return fmt.Errorf("%w: secure-aggregation id %d, cap %d", ErrProtocol, id, capN)
	}
	w := 1.0
	if capN > 0 {
		w = float64(min(int64(samples), capN)) / float64(capN)
	}
	input := make([]float64, len(delta)+1)
	for i, v := range delta {
		input[i] = w * v
	}
	input[len(delta)] = w
	sc, err := secagg.NewClient(secagg.ID(id))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if err := sc.SetInput(input); err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpdate, err)
	}
	c.mu.Lock()
	c.secagg = &secAggRun{round: req.Round, sc: sc}
	c.mu.Unlock()
	return nil
}

// secAggStep answers one secure-aggregation message of the current round.
func (c *Client) secAggStep(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	c.mu.Lock()
	run := c.secagg
	c.mu.Unlock()
	if run == nil || run.round != req.Round || req.SecAgg == nil {
		return nil, fmt.Errorf("%w: no secure aggregation under way for round %d", ErrProtocol, req.Round)
	}
	if _, ok := req.SecAgg.(*secagg.Inbox); ok && !c.allowed(ctx) {
		// The masked update is about to leave: ask once more.
		c.dropSecAgg(run)
		return nil, c.decline("consent withdrawn before the masked update", req.Round)
	}
	reply, err := run.sc.Handle(req.SecAgg)
	if err != nil {
		c.dropSecAgg(run)
		return nil, fmt.Errorf("%w: secure aggregation: %w", ErrProtocol, err)
	}
	if st := run.sc.Stage(); st == secagg.StageDone || st == secagg.StageAborted {
		c.dropSecAgg(run)
	}
	return &wire.Message{Kind: wire.KindSecAgg, Seq: req.Seq, Round: req.Round, SecAgg: reply}, nil
}

func (c *Client) dropSecAgg(run *secAggRun) {
	c.mu.Lock()
	if c.secagg == run {
		c.secagg = nil
	}
	c.mu.Unlock()
}
