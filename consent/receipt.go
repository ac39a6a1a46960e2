package consent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// AuditVerifierKey returns the public key that verifies the audit log's
// checkpoints and consent receipts, in golang.org/x/mod/sumdb/note verifier
// key form. Publish it; give it to NewVerifier.
func (l *Ledger) AuditVerifierKey() string { return l.signer.vkey }

// AuditSize returns the number of durable audit log entries.
func (l *Ledger) AuditSize() int64 { return l.durable.Load() }

// AuditEntry returns the audit log entry at index.
func (l *Ledger) AuditEntry(index int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if index < 0 || index >= l.durable.Load() {
		return nil, fmt.Errorf("%w: audit entry %d", ErrNotFound, index)
	}
	return bytes.Clone(l.audit.entries[index]), nil
}

// Checkpoint signs and returns a checkpoint of the audit log's durable
// entries: a golang.org/x/mod/sumdb/note signed note that Verifier.Checkpoint
// reads.
func (l *Ledger) Checkpoint(ctx context.Context) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	signed, _, err := l.checkpointLocked(l.durable.Load())
	return signed, err
}

func (l *Ledger) checkpointLocked(size int64) ([]byte, Checkpoint, error) {
	h, err := l.audit.treeHash(size)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	c := Checkpoint{Origin: l.origin, Size: size, Hash: h}
	signed, err := note.Sign(&note.Note{Text: c.text()}, l.signer)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("consent: sign checkpoint: %w", err)
	}
	return signed, c, nil
}

// InclusionProof proves that entry index is in the log of treeSize
// entries (see VerifyInclusion).
func (l *Ledger) InclusionProof(ctx context.Context, index, treeSize int64) ([]tlog.Hash, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if treeSize > l.durable.Load() || index < 0 || index >= treeSize {
		return nil, fmt.Errorf("%w: no entry %d in a log of %d", ErrNotFound, index, treeSize)
	}
	return tlog.ProveRecord(treeSize, index, l.audit)
}

// ConsistencyProof proves that the log of newSize entries extends the log
// of oldSize entries (see VerifyConsistency).
func (l *Ledger) ConsistencyProof(ctx context.Context, oldSize, newSize int64) ([]tlog.Hash, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if newSize > l.durable.Load() || oldSize < 0 || oldSize > newSize {
		return nil, fmt.Errorf("%w: no log sizes %d..%d", ErrNotFound, oldSize, newSize)
	}
	if oldSize == 0 {
		return nil, nil
	}
	return tlog.ProveTree(newSize, oldSize, l.audit)
}

// ReceiptVersion is the version string of Hearth consent receipts.
const ReceiptVersion = "hearth-consent-receipt/1"

// receiptHeader is the first line of a receipt note, which tells a receipt
// from a checkpoint signed by the same key.
const receiptHeader = "hearth consent receipt\n"

// A Receipt is a consent receipt for the data subject: a record of one
// grant, with field names after the Kantara Initiative Consent Receipt
// v1.1 and ISO/IEC TS 27560, signed by the ledger's audit key and carrying
// the proof that the grant's entry is in the audit log.
//
// A Receipt is plain data whose copies share their slices; it is safe for
// concurrent reads but not for a write concurrent with other use.
type Receipt struct {
	Version          string           `json:"version"`                // ReceiptVersion
	Jurisdiction     string           `json:"jurisdiction,omitempty"` // the controller's
	ConsentTimestamp int64            `json:"consentTimestamp"`       // when consent was given, Unix seconds
	CollectionMethod string           `json:"collectionMethod"`       // how it was given
	ConsentReceiptID string           `json:"consentReceiptID"`       // unique per receipt
	PIIPrincipalID   string           `json:"piiPrincipalId"`         // the data subject
	PIIControllers   []Controller     `json:"piiControllers"`         // who is responsible
	PolicyURL        string           `json:"policyUrl,omitempty"`    // the privacy policy
	Services         []ReceiptService `json:"services"`               // the holder and purpose
	Sensitive        bool             `json:"sensitive"`              // special categories (Art. 9): never, here
	// Issued is when the receipt was made; Status the grant's state then.
	Issued int64  `json:"issued"` // Unix seconds
	Status Status `json:"status"` // the grant's
	// Terms and Nonce open the commitment in the grant's audit entry.
	Terms GrantTerms `json:"terms"` // what was consented to
	Nonce string     `json:"nonce"` // base64url; opens the commitment
	Proof Proof      `json:"proof"` // the entry is in the log
}

// ReceiptService names the recipient (the holder) and the purposes.
//
// A ReceiptService is plain data whose copies share Purposes; it is safe
// for concurrent reads but not for a write concurrent with other use.
type ReceiptService struct {
	Service  string           `json:"service"`  // the holder (client id)
	Purposes []ReceiptPurpose `json:"purposes"` // exactly one: the grant's
}

// ReceiptPurpose describes the purpose of a receipt's grant.
//
// A ReceiptPurpose is plain data whose copies share PIICategory; it is safe
// for concurrent reads but not for a write concurrent with other use.
type ReceiptPurpose struct {
	Purpose              string      `json:"purpose"`              // purpose id
	Description          string      `json:"purposeDescription"`   // in plain words
	LawfulBasis          LawfulBasis `json:"lawfulBasis"`          // Art. 6(1)
	ConsentType          string      `json:"consentType"`          // "EXPLICIT"
	PIICategory          []string    `json:"piiCategory"`          // the grant's scopes, one each
	PrimaryPurpose       bool        `json:"primaryPurpose"`       // always true
	Termination          string      `json:"termination"`          // the grant's expiry, RFC 3339
	Retention            string      `json:"retention"`            // kept this long after it ends
	ThirdPartyDisclosure bool        `json:"thirdPartyDisclosure"` // false: the holder is the recipient
}

// Proof shows that an audit entry is in the log a signed checkpoint
// describes.
//
// A Proof is plain data whose copies share Entry and Hashes; it is safe for
// concurrent reads but not for a write concurrent with other use.
type Proof struct {
	Index      int64       `json:"index"`      // the entry's position
	Entry      []byte      `json:"entry"`      // the audit entry, verbatim
	Checkpoint string      `json:"checkpoint"` // a signed checkpoint note
	Hashes     []tlog.Hash `json:"hashes"`     // the inclusion proof
}

// Receipt returns a signed consent receipt for a grant, for its data
// subject. Verifier.Receipt checks it.
func (l *Ledger) Receipt(ctx context.Context, grantID string) ([]byte, error) {
	now := time.Now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	gs := l.grants[grantID]
	if gs == nil {
		return nil, fmt.Errorf("%w: grant %q", ErrNotFound, grantID)
	}
	size := l.durable.Load()
	if gs.g.AuditIndex >= size {
		return nil, fmt.Errorf("%w: grant %q is not yet durable", ErrNotFound, grantID)
	}
	signedCP, _, err := l.checkpointLocked(size)
	if err != nil {
		return nil, err
	}
	hashes, err := tlog.ProveRecord(size, gs.g.AuditIndex, l.audit)
	if err != nil {
		return nil, err
	}
	p := gs.purpose
	var scopes []string
	for _, s := range gs.g.Scopes {
		scopes = append(scopes, FormatScopes([]Scope{s}))
	}
	r := Receipt{
		Version:          ReceiptVersion,
		Jurisdiction:     l.controller.Jurisdiction,
		ConsentTimestamp: gs.g.Created.Unix(),
		CollectionMethod: "consent page or API of " + l.issuer,
		ConsentReceiptID: newID(),
		PIIPrincipalID:   gs.g.Subject,
		PIIControllers:   []Controller{l.controller},
		PolicyURL:        l.controller.PolicyURL,
		Services: []ReceiptService{{Service: gs.g.Holder, Purposes: []ReceiptPurpose{{
			Purpose: p.ID, Description: p.Description, LawfulBasis: p.LawfulBasis, ConsentType: "EXPLICIT",
			PIICategory: scopes, PrimaryPurpose: true, Termination: gs.g.Expires.UTC().Format(time.RFC3339),
			Retention: p.Retention.String(),
		}}}},
		Issued: now.Unix(),
		Status: gs.status(now),
		Terms:  gs.terms(),
		Nonce:  base64.RawURLEncoding.EncodeToString(gs.nonce),
		Proof:  Proof{Index: gs.g.AuditIndex, Entry: l.audit.entries[gs.g.AuditIndex], Checkpoint: string(signedCP), Hashes: hashes},
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: receiptHeader + string(body) + "\n"}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("consent: sign receipt: %w", err)
	}
	return signed, nil
}

// Receipt verifies a signed consent receipt: its signature, the checkpoint
// it carries, the inclusion of the grant's audit entry in that checkpoint's
// log, and that the entry commits to exactly the terms the receipt states.
func (v *Verifier) Receipt(signed []byte) (*Receipt, error) {
	text, err := v.open(signed)
	if err != nil {
		return nil, err
	}
	body, ok := strings.CutPrefix(text, receiptHeader)
	if !ok {
		return nil, fmt.Errorf("%w: not a consent receipt", ErrVerify)
	}
	var r Receipt
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: receipt: %v", ErrVerify, err)
	}
	if r.Version != ReceiptVersion {
		return nil, fmt.Errorf("%w: receipt version %q", ErrVerify, r.Version)
	}
	cp, err := v.Checkpoint([]byte(r.Proof.Checkpoint))
	if err != nil {
		return nil, err
	}
	if err := VerifyInclusion(cp, r.Proof.Index, r.Proof.Entry, r.Proof.Hashes); err != nil {
		return nil, err
	}
	e, err := ParseAuditEntry(r.Proof.Entry)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	nonce, err := base64.RawURLEncoding.DecodeString(r.Nonce)
	if err != nil {
		return nil, fmt.Errorf("%w: receipt nonce", ErrVerify)
	}
	t := r.Terms
	switch {
	case e.Event != EventGrant || e.Grant != t.Grant:
		return nil, fmt.Errorf("%w: audit entry is not this grant's", ErrVerify)
	case e.Commit != t.Commit(nonce):
		return nil, fmt.Errorf("%w: audit entry does not commit to the receipt's terms", ErrVerify)
	case e.Holder != t.Holder || e.Purpose != t.Purpose || e.Basis != t.Basis:
		return nil, fmt.Errorf("%w: audit entry disagrees with the receipt", ErrVerify)
	case r.PIIPrincipalID != t.Subject || len(r.Services) != 1 || r.Services[0].Service != t.Holder ||
		len(r.Services[0].Purposes) != 1 || r.Services[0].Purposes[0].Purpose != t.Purpose ||
		r.Services[0].Purposes[0].LawfulBasis != t.Basis:
		return nil, fmt.Errorf("%w: receipt fields disagree with its terms", ErrVerify)
	}
	var scopes []string
	parsed, err := ParseScopes(t.Scope)
	if err != nil {
		return nil, fmt.Errorf("%w: receipt scope: %w", ErrVerify, err)
	}
	for _, s := range parsed {
		scopes = append(scopes, FormatScopes([]Scope{s}))
	}
	if strings.Join(scopes, " ") != strings.Join(r.Services[0].Purposes[0].PIICategory, " ") {
		return nil, fmt.Errorf("%w: receipt scopes disagree with its terms", ErrVerify)
	}
	return &r, nil
}
