// Package fedlearn is federated learning for Go services and gateways:
// many clients train a shared model on data that never leaves them, and a
// server combines their updates into a better model, round after round. It
// implements federated averaging (McMahan et al. 2017,
// "Communication-Efficient Learning of Deep Networks from Decentralized
// Data") with the robust and adaptive strategies that followed it, trains
// its built-in
// models in Go on gonum, and has privacy built in: update clipping, central
// differential privacy with an RDP accountant (package fedlearn/dp),
// secure aggregation (package fedlearn/secagg), a minimum cohort size and a
// consent check on every client. It imports nothing else of Hearth.
//
// # Tour
//
// The application owns the model and the data; the library owns the
// rounds. A client wraps a [Trainer], anything that can train a flat
// parameter vector locally:
//
//	model := fedlearn.TwoNN()                      // or SoftmaxRegression, NewMLP, NewRegressor
//	trainer, _ := model.Trainer(localData, seed)   // minibatch SGD, momentum, FedProx
//	client, _ := fedlearn.NewClient(trainer, fedlearn.ClientConfig{
//		Consent:  fedlearn.ConsentFunc(householdAgrees), // asked before and after training
//		ClipNorm: 1,                                     // bound every update's L2 norm
//	})
//	err := client.Connect(ctx, fedlearn.DialConfig{URL: "https://resort.example/fl", Token: token})
//
// Connect keeps the client connected, reconnecting with back-off after
// network failures and server restarts. The server samples
// m = max(⌈C·K⌉, MinFit) of the K connected clients each round, sends them
// the global model, collects their updates until all have answered, a
// quorum plus a straggler grace period has passed, or the round deadline
// expires, rejects malformed updates, aggregates with its [Strategy],
// evaluates, records a [RoundRecord] and checkpoints. Secure aggregation
// is on unless the configuration opts out (see # Privacy):
//
//	srv, _ := fedlearn.NewServer(fedlearn.ServerConfig{
//		Params:        model.Init(1),
//		Rounds:        100,
//		FractionFit:   0.1,
//		Train:         fedlearn.TrainConfig{Epochs: 1, BatchSize: 10, LearningRate: 0.1},
//		CheckpointDir: "/var/lib/fl",
//	})
//	h, _ := fedlearn.NewHTTPHandler(srv, fedlearn.HTTPConfig{Auth: tokens})
//	mux.Handle("/fl/", http.StripPrefix("/fl", h))
//	err := srv.Run(ctx)
//
// For simulations, [Local] connects clients in the same process; hundreds
// of clients train concurrently (see the fedsim command in cmd/fedsim,
// which reproduces the paper's MNIST experiments).
//
// # Models and data
//
// [MLP] is a fully connected ReLU network with a softmax cross-entropy or
// squared-error head, stored as one flat vector and trained with gonum's
// BLAS without allocating per batch. [TwoNN] is the paper's 784-200-200-10
// network, [SoftmaxRegression] its multinomial logistic regression, and
// [NewEnergyForecaster] a regressor for next-hour energy use. Training is
// deterministic under a seed. Any other model plugs in by implementing
// [Trainer] (and optionally [Evaluator]).
//
// [LoadMNIST] and [ReadIDX] read the MNIST IDX files, [ReadCSV] reads CSV
// tables, and [PartitionIID], [PartitionShards] (the paper's pathological
// non-IID split) and [PartitionDirichlet] divide a dataset among clients.
// [GenerateEnergy] simulates the hourly electricity use of a resort's
// holiday homes (weather, bookings, heating, guests' habits, appliances;
// every home different) and [EnergyDataset] turns a home's series into a
// forecasting dataset.
//
// # Strategies
//
// [FedAvg] (sample-weighted over the round's cohort; under secure
// aggregation only when MaxSamples is set explicitly), [FedAvgM],
// [FedAdam], [FedYogi] and [FedAdagrad] use the updates only through their
// mean: they implement [MeanStrategy] and can run under secure aggregation
// and central DP. [Median], [TrimmedMean] and [Krum] (with Multi-Krum)
// resist a minority of malicious or broken clients but must see every
// update, so they need ServerConfig.PlaintextUpdates. FedProx is
// client-side ([TrainConfig].ProxMu). Stateful strategies implement
// encoding.BinaryMarshaler so that checkpoints keep their state.
//
// # Robustness
//
// Every wait is bounded. Run waits at most WaitTimeout for enough clients
// and then returns [ErrNotEnoughClients] instead of hanging; each round has
// a deadline, optionally cut short once a quorum has arrived
// (StragglerTimeout); a client that dies mid-round is noticed when its
// connection drops or its heartbeats stop. Updates with the wrong length,
// NaN or Inf values, or an implausible sample count are rejected and
// counted in the round's record; a round with fewer than Quorum good
// updates changes nothing. A restarted server resumes from its checkpoint
// (model, strategy state, history) and its clients find it again on their
// own. The privacy spent is not taken from the checkpoint alone: under
// central DP every noised round is first appended to a synced privacy log
// ([PrivacyLogFile]), so rounds released after the last checkpoint still
// count after a crash.
//
// # Privacy
//
// Only parameters leave a client; its data never does. Privacy is on by
// default: a server configured with nothing but its parameters runs every
// round under secure aggregation, so it never sees one household's update;
// asks its clients to clip to [DefaultClipNorm]; releases no aggregate of
// fewer than [DefaultMinCohort] clients; rejects updates claiming more than
// [DefaultMaxSamples] samples; and publishes to clients only the
// [RoundRecord.Public] part of its history. Central differential privacy is
// opted into with ServerConfig.Privacy, as its noise trades accuracy for ε
// and no noise multiplier suits every model. Opting out of secure
// aggregation takes a deliberate, easily audited
// ServerConfig.PlaintextUpdates = true: simulations on public data use it
// for speed, and the robust strategies need it. In detail:
//
//   - Consent: a [Client] asks its [Consent] before training, again before
//     sending the result, and, under secure aggregation, once more before
//     the masked update leaves, so a withdrawal takes effect at once. A nil
//     Consent means no gate: embedders with data subjects must set it.
//   - Minimum cohort: no aggregate of fewer than MinCohort clients (default
//     3) is ever released, so no model reflects a single household.
//   - Clipping: ClientConfig.ClipNorm bounds the L2 norm of every update a
//     client sends; a server using DP or secure aggregation (the default)
//     asks its clients to clip to its own bound as well.
//   - Central differential privacy ([DPConfig], DP-FedAvg of McMahan et al.
//     2018): the server clips each update to S, averages the m updates with
//     equal weights and adds Gaussian noise of standard deviation z·S/m;
//     an RDP accountant for the subsampled Gaussian reports the cumulative
//     (ε, δ) in every RoundRecord. Local noise is available too
//     (ClientConfig.NoiseMultiplier) but costs far more accuracy.
//   - Secure aggregation ([SecAggConfig], on by default): clients mask
//     their clipped, weighted updates with pairwise masks from
//     X25519-agreed seeds and Shamir-share their secrets, so the server
//     learns only the sum, even when some clients drop out mid-protocol.
//     Combined with central DP the server still adds the noise, after
//     seeing only the sum.
//   - Sample counts: a client claiming more than MaxSamples samples
//     (default [DefaultMaxSamples]) is rejected, so that no client can
//     buy the whole weight of a sample-weighted average.
//
// What is not protected: which clients take part in a round (the server
// talks to them), and what a client chooses to share with
// ClientConfig.ShareMetrics (off by default): its training metrics and its
// federated-evaluation loss, accuracy and sample count, which it reports
// individually and in the clear, outside secure aggregation and DP. A
// client that does not share metrics declines evaluation requests. The
// server keeps shared metrics in its own History, but its history endpoint,
// readable by every client, serves only [RoundRecord.Public]: no training
// metrics, no federated evaluation, no counts of declining or failing
// clients. The protections are the server's configuration: a client sends
// its update in the clear to a server that opted out with
// PlaintextUpdates. Central DP trusts the server to add the noise; secure
// aggregation assumes an honest-but-curious server and clients that clip
// honestly. Serve the network transport over TLS: bearer tokens and CRC
// checksums do not protect against an eavesdropper or tampering. Tokens
// ([Token]) redact themselves in logs and in marshalled JSON, XML and
// text, and the package logs only to the *slog.Logger its caller supplies.
//
// # Concurrency
//
// [Server], [Client], [HTTPHandler], [MLP] and [SGD] are safe for
// concurrent use; Server.Run and Server.RunRound must not overlap. The
// server calls its Strategy, OnRound, Stop and Evaluate hooks from the
// goroutine running Run. A client trains one round at a time and declines
// a second concurrent request. Trainers are called from transport
// goroutines and must not retain the global parameters they are given.
// The network transport has one writer goroutine per connection fed by a
// bounded queue: a request waits for room until its context ends, and a
// heartbeat that finds the queue full is skipped.
//
// # Protocol
//
// The network transport runs over HTTP and WebSocket; mount [HTTPHandler]
// at some prefix and serve it over TLS. Every request carries
// "Authorization: Bearer <token>"; the [Authenticator] maps the token to
// the client's ID (so a client cannot claim another's identity) or the
// server answers 401 with a WWW-Authenticate: Bearer challenge.
//
//	GET <prefix>/v1/connect   WebSocket upgrade; the protocol below
//	GET <prefix>/v1/model     the current global model: one wire tensor
//	                          (float32, or float64 with ?dtype=float64),
//	                          header Fedlearn-Round: the round it is from
//	GET <prefix>/v1/history   the public part of the RoundRecords
//	                          (RoundRecord.Public) as a JSON array
//
// On the WebSocket, every frame is a binary message holding exactly one
// package wire Message (magic "HFL", CRC-32C checksummed, canonical,
// size-limited; tensors little-endian float32 by default or float64).
// Text frames and undecodable frames end the connection.
//
//  1. Join. The client sends KindJoin with Config {"protocol": 1} and
//     optionally its display name in Text. The server answers KindJoin
//     with Config {"protocol": 1, "heartbeat_ms": H} and the client's
//     authenticated ID in Text, or KindError with code 5 (protocol) if it
//     does not speak the client's version, and closes.
//  2. Heartbeats. Both sides send KindHeartbeat every H milliseconds; a
//     side that receives nothing for 3·H drops the connection. The client
//     then reconnects with randomised exponential back-off (250 ms to 30 s
//     by default) and joins again; the server forgets the old connection.
//  3. Requests. Only the server makes requests; it picks a fresh Seq for
//     each, and the reply carries the same Seq. Replies may arrive in any
//     order; a reply after the server has given up on its request is
//     dropped. A client may refuse or fail any request with KindError, its
//     Code one of 0 internal, 1 declined (no consent, busy), 2 bad update,
//     3 configuration, 4 model mismatch, 5 protocol, 6 cancelled.
//
// The requests:
//
//   - KindFitRequest, Round r, Tensors[0] the global parameters, Config
//     "epochs", "batch" (int64), "lr", "momentum", "mu" (float64), "seed"
//     (int64, the bits of a uint64) and, when the server wants updates
//     clipped, "clip" (float64). The reply is KindFitResult with Round r,
//     Tensors[0] the update (local − global parameters, clipped), Samples
//     the number of training examples, and Metrics only if the client
//     shares them. Unknown Config keys are ignored.
//   - In a secure-aggregation round the training request also has
//     "secagg" (true), "secagg_id" (the client's ID in the run, 1..m) and
//     "secagg_cap" (the sample count of full weight; 0 for unweighted),
//     and the client answers with a KindFitResult without tensors or
//     sample count. Four KindSecAgg exchanges follow (Begin → Advertise,
//     Roster → Shares, Inbox → MaskedInput, UnmaskRequest → Reveal; see
//     package secagg), each carrying Round r; the server accepts a reply
//     only if its From is the ID it gave that connection. The masked input
//     is the client's update times its weight w = min(samples, cap)/cap
//     (1 when unweighted), followed by w, so the server can divide the sum
//     by the total weight.
//   - KindEvaluateRequest, Round r, Tensors[0] the parameters to evaluate;
//     the reply is KindEvaluateResult with Samples and Metrics "loss" and
//     "accuracy", or KindError with code 1 (declined) from a client that
//     does not share metrics.
//
// The server validates every reply (kind, round, length, finiteness,
// sample count) before it can influence the model. Other transports, such
// as a message broker, implement [Conn] on the server side and call
// Client.Handle on the client side with the same messages.
package fedlearn
