package fedlearn_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"net/http/httptest"

	"github.com/hearth-wot/hearth/fedlearn"
)

// A simulation in one process: eight holiday homes each train a next-hour
// energy forecaster on their own meter data, and the server averages the
// models with FedAvg, four homes per round.
func Example_simulation() {
	const lags = 24
	homes := fedlearn.GenerateEnergy(fedlearn.EnergyConfig{Homes: 8, Days: 28, Seed: 1})
	model, err := fedlearn.NewEnergyForecaster(lags, 16)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := fedlearn.NewServer(fedlearn.ServerConfig{
		Params:   model.Init(1),
		Rounds:   20,
		PerRound: 4,
		Train:    fedlearn.TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 0.05},
	})
	if err != nil {
		log.Fatal(err)
	}
	var tests []*fedlearn.Dataset
	for i, h := range homes {
		d, err := fedlearn.EnergyDataset(h, lags)
		if err != nil {
			log.Fatal(err)
		}
		train, test := d.Split(d.Len() * 3 / 4) // the last week is for testing
		tests = append(tests, test)
		trainer, err := model.Trainer(train, uint64(i))
		if err != nil {
			log.Fatal(err)
		}
		client, err := fedlearn.NewClient(trainer, fedlearn.ClientConfig{})
		if err != nil {
			log.Fatal(err)
		}
		srv.Attach(fedlearn.Local(h.ID, client))
	}
	if err := srv.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Every home's last week, forecast by the shared model, against the
	// naive forecast "same hour yesterday" (the first feature).
	var se, naive float64
	for _, test := range tests {
		r, err := model.Evaluate(context.Background(), srv.Params(), test)
		if err != nil {
			log.Fatal(err)
		}
		se += r.Loss * float64(r.Samples)
		for i := range test.Len() {
			naive += math.Pow(test.Row(i)[0]-test.Y[i], 2)
		}
	}
	h := srv.History()
	fmt.Printf("%d rounds, %d homes per round\n", len(h), h[len(h)-1].Accepted)
	fmt.Printf("federated forecast beats yesterday's: %v\n", se < naive)
	// Output:
	// 20 rounds, 4 homes per round
	// federated forecast beats yesterday's: true
}

// Embedding a client: a gateway trains on its own data and talks to the
// resort's server over HTTPS and WebSocket; only model updates leave.
func ExampleClient_Connect() {
	// The resort's server (here on loopback; mount the handler under your
	// own http.Server with TLS in production).
	model := fedlearn.SoftmaxRegression(2, 2)
	srv, _ := fedlearn.NewServer(fedlearn.ServerConfig{Params: model.Init(1), Rounds: 3, MinCohort: 1, PerRound: 1})
	auth, _ := fedlearn.NewStaticTokens(map[fedlearn.Token]string{"s3cret": "home-01"})
	h, _ := fedlearn.NewHTTPHandler(srv, fedlearn.HTTPConfig{Auth: auth})
	ts := httptest.NewServer(h)
	defer ts.Close()
	defer h.Close()

	// The gateway: its data, its consent check, its client.
	data := &fedlearn.Dataset{Features: 2, Classes: 2, X: []float64{0, 1, 1, 0, 0, 2, 2, 0}, Labels: []int{0, 1, 0, 1}}
	trainer, _ := model.Trainer(data, 1)
	client, _ := fedlearn.NewClient(trainer, fedlearn.ClientConfig{
		Consent:  fedlearn.ConsentFunc(func(context.Context) bool { return true }), // ask the ledger
		ClipNorm: 1,
	})
	ctx, cancel := context.WithCancel(context.Background())
	go client.Connect(ctx, fedlearn.DialConfig{URL: ts.URL, Token: "s3cret"})

	if err := srv.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	cancel()
	fmt.Println("clients:", srv.Clients())
	fmt.Println("updates sent:", client.Stats().Trained)
	// Output:
	// clients: [home-01]
	// updates sent: 3
}
