package consent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// A txn is one store record: a list of operations the ledger applies
// atomically. Live changes and replay go through the same apply code, so the
// state after a restart is the state before it.
type txn struct {
	Ops []txOp `json:"ops"`
}

// Operation kinds.
const (
	opAuditKey   = "auditkey"  // the audit log's signing key
	opKey        = "key"       // a token signing key
	opRetireKey  = "retire"    // a signing key stops signing
	opSubject    = "subject"   // a subject's pseudonym salt
	opForget     = "forget"    // a subject's salt is destroyed (erasure)
	opGrant      = "grant"     // a new grant
	opRevoke     = "revoke"    // a grant is revoked
	opDelete     = "delete"    // a grant (and its token families) is deleted
	opFamily     = "family"    // a new token family with its first refresh token
	opRotate     = "rotate"    // a family's refresh token is exchanged
	opRevokeFam  = "revokefam" // a token family is revoked
	opAudit      = "audit"     // an audit log entry
	maxSpentKept = 16          // spent refresh token hashes kept per family
)

type txOp struct {
	Kind   string     `json:"k"`
	ID     string     `json:"id,omitempty"`
	At     int64      `json:"at,omitempty"` // UnixNano
	Until  int64      `json:"until,omitempty"`
	Hash   []byte     `json:"hash,omitempty"`
	Salt   []byte     `json:"salt,omitempty"`
	Seed   []byte     `json:"seed,omitempty"`
	Grant  *grantRec  `json:"grant,omitempty"`
	Family *familyRec `json:"family,omitempty"`
	Key    *keyRec    `json:"key,omitempty"`
	Entry  []byte     `json:"entry,omitempty"`

	// pseudonym is the audit entry's subject, known when the op is built
	// live, so that apply need not decode the entry again. Not stored.
	pseudonym *string
}

type grantRec struct {
	ID      string  `json:"id"`
	Subject string  `json:"subject"`
	Holder  string  `json:"holder"`
	Purpose string  `json:"purpose"`
	Scopes  []Scope `json:"scopes"`
	Created int64   `json:"created"`
	Expires int64   `json:"expires"`
	Revoked int64   `json:"revoked,omitempty"`
	Nonce   []byte  `json:"nonce"`
	Audit   int64   `json:"audit"`
}

type familyRec struct {
	ID      string   `json:"id"`
	Grant   string   `json:"grant"`
	Client  string   `json:"client"`
	Scope   string   `json:"scope"`
	Created int64    `json:"created"`
	Current []byte   `json:"current"`
	Spent   [][]byte `json:"spent,omitempty"`
	Revoked bool     `json:"revoked,omitempty"`
}

type keyRec struct {
	KID     string `json:"kid"`
	Alg     string `json:"alg"`
	PKCS8   []byte `json:"pkcs8"`
	Created int64  `json:"created"`
	Retired int64  `json:"retired,omitempty"`
	Until   int64  `json:"until,omitempty"`
}

func encodeTxn(ops []txOp) ([]byte, error) {
	return json.Marshal(txn{Ops: ops})
}

// decodeTxn decodes one store record strictly: unknown members are
// errors, so a record from a newer or damaged writer is not half-applied.
func decodeTxn(rec []byte) ([]txOp, error) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.DisallowUnknownFields()
	var t txn
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%w: record does not decode: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after record", ErrCorrupt)
	}
	if len(t.Ops) == 0 {
		return nil, fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	return t.Ops, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
