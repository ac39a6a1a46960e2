package secagg_test

import (
	"fmt"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
)

// Five clients sum their updates; client 4 drops out after sharing its
// keys, and the server still learns exactly the sum of the other four.
func Example() {
	srv, err := secagg.NewServer(secagg.ServerConfig{
		Length:     3,
		Clip:       1, // updates are clipped to norm 1
		MaxClients: 5,
	})
	if err != nil {
		panic(err)
	}
	inputs := map[secagg.ID][]float64{
		1: {0.1, 0.2, -0.3}, 2: {0.5, 0, 0}, 3: {-0.25, 0.25, 0.5},
		4: {0.9, 0.9, 0.1}, 5: {0, -0.125, 0.25},
	}
	clients := map[secagg.ID]*secagg.Client{}
	out := map[secagg.ID]secagg.Message{}
	for id := range inputs {
		clients[id], _ = secagg.NewClient(id)
		clients[id].SetInput(inputs[id])
		out[id] = srv.Begin()
	}
	// Each stage: deliver the server's messages, collect the replies,
	// advance. A real transport does this over the network with a
	// deadline per stage.
	for srv.Stage() < secagg.StageDone {
		for id, m := range out {
			if id == 4 && srv.Stage() == secagg.StageMasked {
				continue // client 4 is gone
			}
			reply, err := clients[id].Handle(m)
			if err != nil {
				panic(err)
			}
			if err := srv.Receive(reply); err != nil {
				panic(err)
			}
		}
		if out, err = srv.Advance(); err != nil {
			panic(err)
		}
	}
	res, err := srv.Result()
	if err != nil {
		panic(err)
	}
	fmt.Println("clients:", res.Clients)
	fmt.Printf("sum: %.4f\n", res.Sum)
	// Output:
	// clients: [1 2 3 5]
	// sum: [0.3500 0.3250 0.4500]
}
