package wire_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// viaWire encodes m as a KindSecAgg message and decodes it again.
func viaWire(t testing.TB, m secagg.Message) secagg.Message {
	t.Helper()
	b, err := (&wire.Message{Kind: wire.KindSecAgg, Round: 9, Seq: 4, SecAgg: m}).MarshalBinary()
	if err != nil {
		t.Fatalf("encode %T: %v", m, err)
	}
	got, err := wire.Unmarshal(b)
	if err != nil {
		t.Fatalf("decode %T: %v", m, err)
	}
	if got.Kind != wire.KindSecAgg || got.Round != 9 || got.Seq != 4 {
		t.Fatalf("header %+v", got)
	}
	if !reflect.DeepEqual(got.SecAgg, m) {
		t.Fatalf("%T changed in transit:\n got %+v\nwant %+v", m, got.SecAgg, m)
	}
	return got.SecAgg
}

// secaggTranscript runs a complete secure aggregation of n clients in
// which every message crosses the wire encoding, and returns every
// message sent along with the result.
func secaggTranscript(t testing.TB, n, length int, dropAtMasked secagg.ID) ([]secagg.Message, *secagg.Result, [][]float64) {
	t.Helper()
	srv, err := secagg.NewServer(secagg.ServerConfig{Length: length, Clip: 1, MaxClients: n})
	if err != nil {
		t.Fatal(err)
	}
	var log []secagg.Message
	clients := map[secagg.ID]*secagg.Client{}
	inputs := make([][]float64, n+1)
	out := map[secagg.ID]secagg.Message{}
	for i := 1; i <= n; i++ {
		id := secagg.ID(i)
		clients[id], _ = secagg.NewClient(id)
		inputs[i] = make([]float64, length)
		for j := range inputs[i] {
			inputs[i][j] = float64((i*31+j*17)%100-50) / 100
		}
		clients[id].SetInput(inputs[i])
		out[id] = srv.Begin()
	}
	for srv.Stage() < secagg.StageDone {
		for _, id := range slices.Sorted(func(yield func(secagg.ID) bool) {
			for id := range out {
				if !yield(id) {
					return
				}
			}
		}) {
			if id == dropAtMasked && srv.Stage() == secagg.StageMasked {
				continue
			}
			m := viaWire(t, out[id])
			log = append(log, m)
			reply, err := clients[id].Handle(m)
			if err != nil {
				t.Fatal(err)
			}
			reply = viaWire(t, reply)
			log = append(log, reply)
			if err := srv.Receive(reply); err != nil {
				t.Fatal(err)
			}
		}
		if out, err = srv.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := srv.Result()
	if err != nil {
		t.Fatal(err)
	}
	return log, res, inputs
}

func TestSecAggOverWire(t *testing.T) {
	log, res, inputs := secaggTranscript(t, 5, 16, 3)
	kinds := map[string]bool{}
	for _, m := range log {
		kinds[reflect.TypeOf(m).Elem().Name()] = true
	}
	if len(kinds) != 8 {
		t.Fatalf("transcript has %d message types: %v", len(kinds), kinds)
	}
	if !slices.Equal(res.Clients, []secagg.ID{1, 2, 4, 5}) {
		t.Fatalf("clients %v", res.Clients)
	}
	for j := range res.Sum {
		want := 0.0
		for _, i := range []int{1, 2, 4, 5} {
			want += inputs[i][j]
		}
		if math.Abs(res.Sum[j]-want) > 1e-6 {
			t.Fatalf("sum[%d] = %v, want %v", j, res.Sum[j], want)
		}
	}
}

func TestSecAggEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		m    wire.Message
		want error
	}{
		{"missing", wire.Message{Kind: wire.KindSecAgg}, wire.ErrMalformed},
		{"wrong-kind", wire.Message{Kind: wire.KindFitResult, SecAgg: &secagg.Inbox{}}, wire.ErrMalformed},
		{"nan-clip", wire.Message{Kind: wire.KindSecAgg, SecAgg: &secagg.Begin{Clip: math.NaN()}}, wire.ErrNonFinite},
		{"negative-length", wire.Message{Kind: wire.KindSecAgg, SecAgg: &secagg.Begin{Length: -1, Clip: 1}}, wire.ErrMalformed},
		{"short-ciphertext", wire.Message{Kind: wire.KindSecAgg, SecAgg: &secagg.Inbox{Envelopes: []secagg.Envelope{{Ciphertext: []byte{1}}}}}, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.m.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSecAggDecodeErrors(t *testing.T) {
	//          seq round samples code text config metrics tensors
	hdr := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name string
		body []byte
		lim  wire.Limits
		want error
	}{
		{"no-section", nil, wire.Limits{}, wire.ErrMalformed},
		{"unknown-type", []byte{9}, wire.Limits{}, wire.ErrMalformed},
		{"truncated-advertise", append([]byte{2, 1}, make([]byte, 40)...), wire.Limits{}, wire.ErrMalformed},
		{"id-overflow", append([]byte{2, 0x80, 0x80, 0x80, 0x80, 0x10}, make([]byte, 64)...), wire.Limits{}, wire.ErrMalformed},
		{"envelope-count", []byte{5, 0x80, 0x80, 0x04}, wire.Limits{}, wire.ErrMalformed},
		{"peers-limit", []byte{7, 3, 1, 2, 3, 0}, wire.Limits{MaxPeers: 2}, wire.ErrTooLarge},
		{"masked-truncated", []byte{6, 1, 3, 0, 0, 0, 0}, wire.Limits{}, wire.ErrMalformed},
		{"masked-limit", []byte{6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, wire.Limits{MaxElements: 2}, wire.ErrTooLarge},
		{"trailing", []byte{7, 0, 0, 0}, wire.Limits{}, wire.ErrMalformed},
		{"ok-unmask", []byte{7, 1, 5, 0}, wire.Limits{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m wire.Message
			err := tt.lim.Unmarshal(frame(wire.KindSecAgg, wire.Float32, slices.Concat(hdr, tt.body)...), &m)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
