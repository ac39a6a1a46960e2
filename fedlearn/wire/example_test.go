package wire_test

import (
	"fmt"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

func ExampleAppendTensor() {
	params := []float64{0.5, -1.25, 3}
	b, err := wire.AppendTensor(nil, params, wire.Float32)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(b), "bytes")

	got, err := wire.DecodeTensor(nil, b)
	if err != nil {
		panic(err)
	}
	fmt.Println(got)
	// Output:
	// 24 bytes
	// [0.5 -1.25 3]
}

func ExampleMessage() {
	// The server asks a client to train one epoch on the global model.
	req := &wire.Message{
		Kind:    wire.KindFitRequest,
		Seq:     7,
		Round:   12,
		Config:  map[string]any{"epochs": 1, "batch": 10, "lr": 0.05},
		Tensors: [][]float64{{0.1, 0.2, 0.3}},
	}
	b, err := req.MarshalBinary()
	if err != nil {
		panic(err)
	}

	// The client decodes it, with limits suited to its memory.
	lim := wire.Limits{MaxBytes: 8 << 20}
	var m wire.Message
	if err := lim.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, "seq", m.Seq, "round", m.Round, "epochs", m.Config["epochs"], "lr", m.Config["lr"])
	fmt.Printf("%.2f\n", m.Tensors[0])

	// It replies with its local model, sample count and metrics.
	res := &wire.Message{
		Kind: wire.KindFitResult, Seq: m.Seq, Round: m.Round,
		Samples: 600, Metrics: map[string]float64{"loss": 0.31},
		Tensors: [][]float64{{0.11, 0.19, 0.32}},
	}
	if _, err := res.MarshalBinary(); err != nil {
		panic(err)
	}
	fmt.Println(res.Kind, res.Samples, res.Metrics["loss"])
	// Output:
	// fit-request seq 7 round 12 epochs 1 lr 0.05
	// [0.10 0.20 0.30]
	// fit-result 600 0.31
}
