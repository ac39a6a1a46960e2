package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Audit events.
const (
	EventGrant        = "grant"         // a grant was recorded
	EventIssue        = "issue"         // a token family was issued for a grant
	EventRefresh      = "refresh"       // a refresh token was exchanged
	EventRevoke       = "revoke"        // a grant was revoked
	EventRevokeFamily = "revoke-tokens" // a token family was revoked
	EventRefreshReuse = "refresh-reuse" // a spent refresh token came back; its family was revoked
	EventDelete       = "delete"        // a grant was deleted
	EventPurge        = "purge"         // a grant was deleted when its retention ended
	EventExport       = "export"        // a subject's data was exported
	EventErase        = "erase"         // a subject's data was erased
)

// An AuditEntry is one record of the audit log. It names the data subject
// only by pseudonym (a keyed hash that the ledger can no longer compute once
// the subject is erased) and holds no personal data: the grant's terms
// appear only as Commit, a hiding commitment that the subject's consent
// receipt opens.
//
// An AuditEntry is a plain value: copies are independent, and it is safe
// for concurrent reads but not for a write concurrent with other use.
type AuditEntry struct {
	Time    time.Time   `json:"time"`              // when, to the millisecond, UTC
	Event   string      `json:"event"`             // one of the Event constants
	Grant   string      `json:"grant,omitempty"`   // the grant concerned
	Family  string      `json:"family,omitempty"`  // the token family concerned
	Subject string      `json:"subject,omitempty"` // the subject's pseudonym
	Holder  string      `json:"holder,omitempty"`  // the client
	Purpose string      `json:"purpose,omitempty"` // the purpose id
	Basis   LawfulBasis `json:"basis,omitempty"`   // the purpose's lawful basis
	Expires time.Time   `json:"expires,omitzero"`  // a new grant's expiry
	// Commit is the hex SHA-256 of a grant's nonce followed by its terms.
	Commit string `json:"commit,omitempty"`
	// Count is how many items the event covered (grants erased or exported).
	Count int `json:"count,omitempty"`
}

// ParseAuditEntry decodes an audit log record.
func ParseAuditEntry(b []byte) (*AuditEntry, error) {
	var e AuditEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: audit entry: %v", ErrCorrupt, err)
	}
	if e.Event == "" {
		return nil, fmt.Errorf("%w: audit entry without event", ErrCorrupt)
	}
	return &e, nil
}

// auditLog is the in-memory Merkle tree of the audit log, hashed as in
// golang.org/x/mod/sumdb/tlog. It is guarded by Ledger.mu.
type auditLog struct {
	entries   [][]byte
	hashes    []tlog.Hash // tlog stored hashes, by stored-hash index
	bySubject map[string][]int64
}

func newAuditLog() *auditLog {
	return &auditLog{bySubject: make(map[string][]int64)}
}

func (a *auditLog) size() int64 { return int64(len(a.entries)) }

// ReadHashes implements tlog.HashReader.
func (a *auditLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(a.hashes)) {
			return nil, fmt.Errorf("%w: audit hash %d not stored", ErrNotFound, x)
		}
		out[i] = a.hashes[x]
	}
	return out, nil
}

// append adds an entry. pseudonym, when not nil, is the entry's Subject,
// which then need not be decoded.
func (a *auditLog) append(entry []byte, pseudonym *string) error {
	if pseudonym == nil {
		e, err := ParseAuditEntry(entry)
		if err != nil {
			return err
		}
		pseudonym = &e.Subject
	}
	n := int64(len(a.entries))
	hs, err := tlog.StoredHashes(n, entry, a)
	if err != nil {
		return err
	}
	a.hashes = append(a.hashes, hs...)
	a.entries = append(a.entries, entry)
	if *pseudonym != "" {
		a.bySubject[*pseudonym] = append(a.bySubject[*pseudonym], n)
	}
	return nil
}

func (a *auditLog) treeHash(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, a) }

// A Checkpoint is a signed statement of the audit log's size and root
// hash, in the C2SP tlog-checkpoint text format:
//
//	<origin>
//	<size>
//	<base64 root hash>
//
// A Checkpoint is a plain value: copies are independent, and it is safe for
// concurrent reads but not for a write concurrent with other use.
type Checkpoint struct {
	Origin string    // the log's name (Config.AuditOrigin)
	Size   int64     // number of entries
	Hash   tlog.Hash // root hash of the Merkle tree
}

func (c Checkpoint) text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: malformed checkpoint", ErrVerify)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseInt(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != strings.TrimSuffix(lines[1], "\n") {
		return Checkpoint{}, fmt.Errorf("%w: malformed checkpoint size", ErrVerify)
	}
	h, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: malformed checkpoint hash", ErrVerify)
	}
	c := Checkpoint{Origin: origin, Size: size}
	copy(c.Hash[:], h)
	return c, nil
}

func newVerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("%w: audit key: %v", ErrInvalidRequest, err)
	}
	return vkey, nil
}

func parseVerifierKey(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key: %v", ErrVerify, err)
	}
	return v, nil
}

// A Verifier checks what a Ledger's audit log signs: checkpoints, consent
// receipts, inclusion and consistency proofs. It needs only the log's
// public verifier key (Ledger.AuditVerifierKey), so data subjects and
// auditors can run it without access to the ledger. It is safe for
// concurrent use.
type Verifier struct {
	v note.Verifier
}

// NewVerifier returns a Verifier for a golang.org/x/mod/sumdb/note verifier
// key such as Ledger.AuditVerifierKey returns.
func NewVerifier(vkey string) (*Verifier, error) {
	v, err := parseVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	return &Verifier{v: v}, nil
}

// open verifies a signed note and returns its text.
func (v *Verifier) open(signed []byte) (string, error) {
	n, err := note.Open(signed, note.VerifierList(v.v))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrVerify, err)
	}
	return n.Text, nil
}

// Checkpoint verifies a signed checkpoint and returns its contents.
func (v *Verifier) Checkpoint(signed []byte) (Checkpoint, error) {
	text, err := v.open(signed)
	if err != nil {
		return Checkpoint{}, err
	}
	c, err := parseCheckpointText(text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q is not %q", ErrVerify, c.Origin, v.v.Name())
	}
	return c, nil
}

// VerifyInclusion checks that entry is record index of the log whose
// state c describes.
func VerifyInclusion(c Checkpoint, index int64, entry []byte, proof []tlog.Hash) error {
	if index < 0 || index >= c.Size {
		return fmt.Errorf("%w: index %d outside a log of %d entries", ErrVerify, index, c.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(proof), c.Size, c.Hash, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("%w: inclusion: %v", ErrVerify, err)
	}
	return nil
}

// VerifyConsistency checks that the log at newer extends the log at older
// without rewriting it: the property that makes the log append-only.
func VerifyConsistency(older, newer Checkpoint, proof []tlog.Hash) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: checkpoints of different logs", ErrVerify)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%w: older checkpoint is larger", ErrVerify)
	}
	if older.Size == 0 {
		// The empty log is a prefix of every log.
		if len(proof) != 0 {
			return fmt.Errorf("%w: consistency: proof for an empty log", ErrVerify)
		}
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(proof), newer.Size, newer.Hash, older.Size, older.Hash); err != nil {
		return fmt.Errorf("%w: consistency: %v", ErrVerify, err)
	}
	return nil
}
