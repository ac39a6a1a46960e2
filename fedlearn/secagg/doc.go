// Package secagg implements secure aggregation for federated learning:
// a server learns the sum of the clients' update vectors and nothing
// else about any individual update, even when some clients drop out
// mid-round.
//
// It follows Bonawitz et al., "Practical Secure Aggregation for
// Privacy-Preserving Machine Learning" (CCS 2017), in its
// honest-but-curious form, with the sparse communication graph of
// SecAgg+ (Bell et al., CCS 2020) as an option. It imports nothing
// outside the standard library.
//
// # Protocol
//
// A run is four request/reply exchanges between a [Server] and the
// sampled [Client]s, carried by plain message structs so that any
// transport can deliver them (package fedlearn/wire encodes them):
//
//  1. Begin → Advertise. Each client generates two X25519 key pairs
//     (crypto/ecdh): one to encrypt shares, one to agree mask seeds.
//  2. Roster → Shares. The server tells each client its neighbours and
//     their public keys. The client draws a self-mask seed b and splits
//     both b and its mask private key into Shamir shares with threshold
//     t over GF(2^61-1), one per neighbour, each encrypted with
//     AES-256-GCM under a key derived (HKDF-SHA256) from the pairwise
//     X25519 secret, and committed to with SHA-256.
//  3. Inbox → MaskedInput. The server forwards the envelopes. The client
//     quantizes its input into Z/2^32, adds the self mask PRG(b) and, for
//     each neighbour v whose envelope arrived, ±PRG(s_uv) with the seed
//     s_uv agreed with v (added by the lower ID, subtracted by the
//     higher), and sends the result. PRG is AES-256-CTR.
//  4. UnmaskRequest → Reveal. For each neighbour, a client reveals the
//     share of its seed b if the neighbour's masked input arrived, or of
//     its mask key if it did not, never both. The server checks every
//     share against its commitment, reconstructs from t shares, removes
//     the self masks of the survivors and the dangling pairwise masks of
//     the dropped, and dequantizes.
//
// Pairwise masks between survivors cancel in the sum; the server can
// remove every other mask, so it obtains exactly the sum of the
// survivors' quantized inputs.
//
// # Using it
//
// The embedder drives the server: send [Server.Begin] to the sampled
// clients, pass each reply to [Server.Receive] (safe from many
// goroutines), and call [Server.Advance] when [Server.Progress] says all
// replies are in or the stage deadline passes; deliver the returned
// messages and repeat until [Server.Result]. A client calls
// [Client.SetInput] with its clipped update and answers each server
// message with [Client.Handle]. See the package example.
//
// # Dropouts and the threshold
//
// Clients may vanish at any stage. Those that miss a stage are left out
// of the sum; the run aborts with [ErrTooFew], releasing nothing, if
// fewer than ServerConfig.MinClients remain (the minimum cohort size,
// default 3), or if some client has fewer than t live neighbours to
// recover its secrets. t defaults to a strict majority of the
// neighbours, the smallest value clients accept: a server that told
// some neighbours a client survived and others that it dropped could
// then never gather t shares of both its secrets.
//
// With the complete graph (ServerConfig.Neighbors = 0) every client is
// every other's neighbour, so the run survives losing almost half the
// cohort, but each client expands n masks and the server's work for
// each dropout is n masks too. With SecAgg+ (Neighbors = k) both are k,
// so rounds of thousands of clients are practical; the cost is that a
// client whose k neighbours lose half their number stops the run, so k
// must grow with the expected dropout rate (k = 16 tolerates 10%
// dropouts among 100 clients in the benchmarks).
//
// # Quantization
//
// Inputs are fixed-point numbers in Z/2^32 ([Quantizer]): each
// coordinate is clamped to ±Clip, scaled by a power of two chosen so that
// MaxClients of them cannot overflow, and rounded. A coordinate of the
// result is within n/(2·scale) of the exact sum of n inputs; for 100
// clients and Clip = 1 that is 3·10^-6. Clip updates to an L2 norm of
// Clip (package fedlearn/dp's ClipL2) so that nothing is clamped. To get
// a weighted average, pre-multiply by the weight and append it as an
// extra coordinate, with Clip large enough for the products.
//
// # Privacy and threat model
//
// The server is assumed honest but curious: it follows the protocol and
// tries to learn from what it sees. Against it, a survivor's masked
// input is uniformly random without both the survivor's self mask and
// all its pairwise masks, and a dropped client's input never reaches it.
// Clients reject forged ciphertexts ([ErrForged]), requests for both of
// a neighbour's secrets, a second unmasking, and thresholds below a
// strict majority ([ErrProtocol]); the server rejects shares that do not
// match their commitments, so a malicious client cannot corrupt the sum
// by revealing wrong shares. Not covered: an actively malicious server
// that invents clients (Sybils) or sends inconsistent rosters, which
// requires the signatures and consistency round of the paper's active
// variant and a PKI; and malicious clients sending garbage inputs
// (secure aggregation hides inputs; bounding them needs proofs or
// robust aggregation, outside this package). The sum itself is released:
// combine with differential privacy (package fedlearn/dp) to bound what
// it reveals.
//
// Clients hold private keys and shares; [Client] and [Share] redact
// themselves in String and slog output, and a client erases its secrets
// once it has answered the unmask request or aborted.
//
// # Concurrency
//
// A [Server] is safe for concurrent use. A [Client] is not: one goroutine
// drives it. [Quantizer] values are safe for concurrent use.
package secagg
