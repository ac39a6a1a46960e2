package secagg

import "fmt"

// ID identifies a client within one aggregation. IDs must be non-zero
// and unique in the cohort; they are also the points at which Shamir
// shares are evaluated. The embedder maps its own client names to IDs
// (for example 1..m in sampling order) and must make sure a message's
// From field is the authenticated sender's ID.
//
// An ID is an immutable value, safe for concurrent use.
type ID uint32

// KeySize is the size of an X25519 public key in bytes.
const KeySize = 32

// Message is one of the protocol messages: [*Begin], [*Advertise],
// [*Roster], [*Shares], [*Inbox], [*MaskedInput], [*UnmaskRequest] or
// [*Reveal]. They are plain structs so that any transport can carry
// them (package fedlearn/wire encodes them). Messages are plain values:
// safe to read concurrently, not to mutate while another goroutine uses
// them. Server and Client copy what they keep.
type Message interface {
	isMessage()
}

func (*Begin) isMessage()         {}
func (*Advertise) isMessage()     {}
func (*Roster) isMessage()        {}
func (*Shares) isMessage()        {}
func (*Inbox) isMessage()         {}
func (*MaskedInput) isMessage()   {}
func (*UnmaskRequest) isMessage() {}
func (*Reveal) isMessage()        {}

// Begin (server → every sampled client) opens a run: it fixes the
// session and how inputs are quantized.
//
// Like every Message, a Begin is safe for concurrent reads but not for a
// write concurrent with any other use.
type Begin struct {
	Session    [32]byte // random, unique per run; binds every key and ciphertext to it
	Length     int      // input vector length
	Clip       float64  // quantization bound per coordinate (see Quantizer)
	MaxClients int      // most inputs that will be summed (quantization headroom)
}

// Advertise (client → server) carries a client's two fresh X25519 public
// keys: one to agree encryption keys for shares, one to agree pairwise
// mask seeds.
//
// Like every Message, an Advertise is safe for concurrent reads but not for
// a write concurrent with any other use.
type Advertise struct {
	From    ID
	EncKey  [KeySize]byte
	MaskKey [KeySize]byte
}

// PeerKeys are a neighbour's advertised public keys.
//
// A PeerKeys is a plain value, safe for concurrent reads.
type PeerKeys struct {
	ID      ID
	EncKey  [KeySize]byte
	MaskKey [KeySize]byte
}

// Roster (server → each client that advertised) lists the client's
// neighbours in the communication graph, sorted by ID, and the
// threshold t: any t of a client's neighbours can recover its secrets.
//
// Like every Message, a Roster is safe for concurrent reads but not for a
// write concurrent with any other use.
type Roster struct {
	Threshold int
	Neighbors []PeerKeys
}

// Envelope carries one client's shares for one neighbour, encrypted and
// authenticated with AES-256-GCM under a key only the two of them can
// derive. KeyHash and SeedHash commit to the two shares inside, so that
// the server can check a share revealed later without learning it.
//
// An Envelope is plain data, safe for concurrent reads but not for a write
// concurrent with any other use.
type Envelope struct {
	From, To   ID
	KeyHash    [32]byte // SHA-256 commitment to the share of From's mask key
	SeedHash   [32]byte // SHA-256 commitment to the share of From's self-mask seed
	Ciphertext []byte   // EnvelopeSize bytes
}

// EnvelopeSize is the length of an Envelope's ciphertext: two shares and
// the GCM tag.
const EnvelopeSize = 2*ShareSize + 16

// Shares (client → server) holds one envelope per neighbour.
//
// Like every Message, a Shares is safe for concurrent reads but not for a
// write concurrent with any other use.
type Shares struct {
	From      ID
	Envelopes []Envelope
}

// Inbox (server → each client whose shares arrived) forwards the
// envelopes addressed to it by neighbours whose shares also arrived.
//
// Like every Message, an Inbox is safe for concurrent reads but not for a
// write concurrent with any other use.
type Inbox struct {
	Envelopes []Envelope
}

// MaskedInput (client → server) is the client's quantized input plus its
// self mask plus a pairwise mask per neighbour in its inbox, modulo 2^32.
//
// Like every Message, a MaskedInput is safe for concurrent reads but not for
// a write concurrent with any other use.
type MaskedInput struct {
	From   ID
	Vector []uint32
}

// UnmaskRequest (server → each client whose masked input arrived) says
// which of the client's neighbours (among those in its inbox) survived,
// so their self-mask seeds must be recovered, and which dropped, so
// their mask keys must be recovered. The lists are sorted and disjoint.
//
// Like every Message, an UnmaskRequest is safe for concurrent reads but not
// for a write concurrent with any other use.
type UnmaskRequest struct {
	Survivors []ID
	Dropped   []ID
}

// RevealedShare is a share a client held for a neighbour, the Owner.
//
// A RevealedShare is a plain value, safe for concurrent reads.
type RevealedShare struct {
	Owner ID
	Share Share
}

// Reveal (client → server) answers an UnmaskRequest: seed shares of the
// surviving neighbours and key shares of the dropped ones, never both
// for one neighbour.
//
// Like every Message, a Reveal is safe for concurrent reads but not for a
// write concurrent with any other use.
type Reveal struct {
	From  ID
	Seeds []RevealedShare
	Keys  []RevealedShare
}

// Stage is the step a [Server] or [Client] is at.
//
// A Stage is an immutable value, safe for concurrent use.
type Stage uint8

// Stages of a run, in order. The server collects the named message in
// each stage; Advance moves it to the next.
const (
	StageAdvertise Stage = iota // collecting Advertise
	StageShares                 // collecting Shares
	StageMasked                 // collecting MaskedInput
	StageUnmask                 // collecting Reveal
	StageDone                   // the sum is available
	StageAborted                // the run failed; nothing is released
)

var stageNames = [...]string{"advertise", "shares", "masked-input", "unmask", "done", "aborted"}

// String returns the stage name, such as "masked-input".
func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", uint8(s))
}
