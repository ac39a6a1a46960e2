package secagg_test

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// FuzzProtocol feeds arbitrary decoded messages to a server and to a
// client at every stage of an otherwise honest run. Neither may panic;
// and when the server rejects the injected message, the run must still
// either release the exact sum or abort, never release a wrong sum.
func FuzzProtocol(f *testing.F) {
	// Seeds: each honest message type, so mutations start from valid
	// structure.
	for _, m := range []secagg.Message{
		&secagg.Begin{Length: 3, Clip: 1, MaxClients: 4},
		&secagg.Advertise{From: 9},
		&secagg.Roster{Threshold: 2, Neighbors: []secagg.PeerKeys{{ID: 1}, {ID: 2}, {ID: 3}}},
		&secagg.Shares{From: 1, Envelopes: []secagg.Envelope{{From: 1, To: 2, Ciphertext: make([]byte, secagg.EnvelopeSize)}}},
		&secagg.Inbox{Envelopes: []secagg.Envelope{{From: 2, To: 1, Ciphertext: make([]byte, secagg.EnvelopeSize)}}},
		&secagg.MaskedInput{From: 1, Vector: []uint32{1, 2, 3}},
		&secagg.UnmaskRequest{Survivors: []secagg.ID{2, 3}, Dropped: []secagg.ID{4}},
		&secagg.Reveal{From: 1, Seeds: []secagg.RevealedShare{{Owner: 2}}},
	} {
		b, err := (&wire.Message{Kind: wire.KindSecAgg, SecAgg: m}).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		for st := range 4 {
			f.Add(uint8(st), b)
		}
	}
	inputs := [][]float64{nil, {0.5, -0.25, 1}, {0.125, 0.5, -1}, {-0.75, 0, 0.25}, {1, 1, -0.5}}
	f.Fuzz(func(t *testing.T, stage uint8, data []byte) {
		// Reseal the checksum so that mutations reach the message itself.
		if len(data) >= 4 {
			body := data[:len(data)-4]
			binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		}
		var wm wire.Message
		if err := (wire.Limits{MaxBytes: 1 << 16, MaxPeers: 16, MaxElements: 16}).Unmarshal(data, &wm); err != nil || wm.SecAgg == nil {
			return
		}
		injected := wm.SecAgg
		inject := secagg.Stage(stage % 4)

		srv, err := secagg.NewServer(secagg.ServerConfig{Length: 3, Clip: 1, MaxClients: 4})
		if err != nil {
			t.Fatal(err)
		}
		clients := map[secagg.ID]*secagg.Client{}
		out := map[secagg.ID]secagg.Message{}
		for id := secagg.ID(1); id <= 4; id++ {
			clients[id], _ = secagg.NewClient(id)
			clients[id].SetInput(inputs[id])
			out[id] = srv.Begin()
		}
		accepted := false
		for srv.Stage() < secagg.StageDone {
			st := srv.Stage()
			if st == inject {
				// Client 1 gets it too; if that derails it, it drops out.
				clients[1].Handle(injected)
				if srv.Receive(injected) == nil {
					accepted = true
				}
			}
			for id := secagg.ID(1); id <= 4; id++ {
				m, ok := out[id]
				if !ok {
					continue
				}
				reply, err := clients[id].Handle(m)
				if err != nil {
					continue // e.g. the victim aborted: it drops out
				}
				srv.Receive(reply)
			}
			if out, err = srv.Advance(); err != nil {
				return // aborted: nothing released
			}
		}
		res, err := srv.Result()
		if err != nil || accepted {
			return
		}
		for j := range 3 {
			want := 0.0
			for _, id := range res.Clients {
				want += inputs[id][j]
			}
			if math.Abs(res.Sum[j]-want) > srv.Quantizer().MaxError(len(res.Clients))+1e-12 {
				t.Fatalf("wrong sum released: %v, clients %v", res.Sum, res.Clients)
			}
		}
	})
}
