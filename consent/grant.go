package consent

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync/atomic"
	"time"
)

// LawfulBasis is the GDPR Art. 6(1) ground for processing under a purpose.
//
// A LawfulBasis is an immutable string and safe for concurrent use.
type LawfulBasis string

// The lawful bases of GDPR Art. 6(1)(a)-(f).
const (
	BasisConsent             LawfulBasis = "consent"              // Art. 6(1)(a)
	BasisContract            LawfulBasis = "contract"             // Art. 6(1)(b)
	BasisLegalObligation     LawfulBasis = "legal-obligation"     // Art. 6(1)(c)
	BasisVitalInterests      LawfulBasis = "vital-interests"      // Art. 6(1)(d)
	BasisPublicTask          LawfulBasis = "public-task"          // Art. 6(1)(e)
	BasisLegitimateInterests LawfulBasis = "legitimate-interests" // Art. 6(1)(f)
)

func (b LawfulBasis) valid() bool {
	switch b {
	case BasisConsent, BasisContract, BasisLegalObligation, BasisVitalInterests, BasisPublicTask, BasisLegitimateInterests:
		return true
	}
	return false
}

// DefaultMaxDuration is the longest a grant lasts when its purpose sets no
// MaxDuration. Grants always expire.
const DefaultMaxDuration = 30 * 24 * time.Hour

// A Purpose is a declared reason for processing. Every grant names one;
// the ledger refuses purposes it does not know.
//
// A Purpose is a plain value: copies are independent, and it is safe for
// concurrent reads but not for a write concurrent with other use.
type Purpose struct {
	// ID names the purpose in grants, tokens and scope requests, such as
	// "comfort" or "energy-forecast". Required.
	ID string `json:"id"`
	// Description says in plain words what the data is used for; the
	// consent page shows it. Required.
	Description string `json:"description"`
	// LawfulBasis is the Art. 6(1) ground. Zero means BasisConsent.
	LawfulBasis LawfulBasis `json:"lawful_basis"`
	// Retention is how long data collected under the purpose may be kept,
	// and how long an ended grant's record is kept before Purge deletes
	// it. Zero means nothing is kept once the grant ends.
	Retention time.Duration `json:"retention"`
	// MaxDuration caps how long a grant for this purpose lasts. Zero means
	// DefaultMaxDuration.
	MaxDuration time.Duration `json:"max_duration"`
	// History reports whether the purpose permits recording the history of
	// the properties its grants cover (see Ledger.HistoryConsents). It
	// requires a Retention.
	History bool `json:"history"`
}

func (p *Purpose) normalize() error {
	var errs []error
	if p.ID == "" || len(p.ID) > 128 {
		errs = append(errs, fmt.Errorf("%w: purpose id must be 1 to 128 bytes", ErrInvalidRequest))
	}
	if p.Description == "" {
		errs = append(errs, fmt.Errorf("%w: purpose %q has no description", ErrInvalidRequest, p.ID))
	}
	if p.LawfulBasis == "" {
		p.LawfulBasis = BasisConsent
	}
	if !p.LawfulBasis.valid() {
		errs = append(errs, fmt.Errorf("%w: purpose %q has unknown lawful basis %q", ErrInvalidRequest, p.ID, p.LawfulBasis))
	}
	if p.Retention < 0 || p.MaxDuration < 0 {
		errs = append(errs, fmt.Errorf("%w: purpose %q has a negative duration", ErrInvalidRequest, p.ID))
	}
	if p.MaxDuration == 0 {
		p.MaxDuration = DefaultMaxDuration
	}
	if p.History && p.Retention == 0 {
		errs = append(errs, fmt.Errorf("%w: purpose %q permits history but has no retention", ErrInvalidRequest, p.ID))
	}
	return errors.Join(errs...)
}

// A Client is an application that may hold grants and obtain tokens
// through the OAuth 2.0 endpoints.
//
// A Client is plain data whose copies share RedirectURIs and Purposes
// (Ledger.Client returns a deep copy); it is safe for concurrent reads but
// not for a write concurrent with other use.
type Client struct {
	// ID is the OAuth client_id and the holder of the client's grants.
	ID string `json:"client_id"`
	// Name is shown on the consent page. Zero means ID.
	Name string `json:"client_name"`
	// URI is the application's home page, shown on the consent page.
	URI string `json:"client_uri,omitempty"`
	// RedirectURIs are the exact redirect URIs the client may use. An
	// authorization request must repeat one of them byte for byte.
	RedirectURIs []string `json:"redirect_uris"`
	// Secret authenticates a confidential client at the token,
	// revocation and introspection endpoints. Empty means a public client,
	// which authenticates with PKCE alone.
	Secret Secret `json:"-"`
	// Purposes the client may ask for. Empty means any declared purpose.
	Purposes []string `json:"purposes,omitempty"`
	// Introspect allows the client (a resource server) to call the
	// introspection endpoint. It requires a Secret.
	Introspect bool `json:"-"`
}

func (c *Client) validate() error {
	var errs []error
	if c.ID == "" || len(c.ID) > 256 {
		errs = append(errs, fmt.Errorf("%w: client id must be 1 to 256 bytes", ErrInvalidRequest))
	}
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || p.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: client %q: redirect URI %q must be absolute without fragment", ErrInvalidRequest, c.ID, u))
		}
	}
	if c.Introspect && c.Secret == "" {
		errs = append(errs, fmt.Errorf("%w: client %q may introspect but has no secret", ErrInvalidRequest, c.ID))
	}
	return errors.Join(errs...)
}

func (c *Client) displayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Status is a grant's state.
//
// A Status is an immutable string and safe for concurrent use.
type Status string

// Grant statuses.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// A Grant is a data subject's consent that a holder may perform some
// operations on some things, for one purpose, until a time.
//
// A Grant is a snapshot that the Ledger copies out afresh (Scopes included)
// on every call, so it is the caller's own: safe for concurrent reads, not
// for a write concurrent with other use, and changing it changes nothing in
// the Ledger.
type Grant struct {
	ID      string    `json:"id"`      // random, assigned by the ledger
	Subject string    `json:"subject"` // the data subject, a pseudonymous id
	Holder  string    `json:"holder"`  // the client (application) the grant is to
	Purpose string    `json:"purpose"` // a Purpose ID
	Scopes  []Scope   `json:"scopes"`  // what the holder may do
	Created time.Time `json:"created"` // when consent was given
	Expires time.Time `json:"expires"` // when it lapses
	// Revoked is when the grant was withdrawn; zero if it was not.
	Revoked time.Time `json:"revoked,omitzero"`
	// Status is the grant's state when this copy was made.
	Status Status `json:"status"`
	// AuditIndex is the position of the grant's entry in the audit log.
	AuditIndex int64 `json:"audit_index"`
}

// A GrantRequest asks the ledger to record a consent.
//
// A GrantRequest is plain data that Ledger.Grant copies (Scopes included);
// it is safe for concurrent reads but must not be modified while a call
// that uses it runs.
type GrantRequest struct {
	Subject string  // required: the data subject's pseudonymous id
	Holder  string  // required: the client the grant is to
	Purpose string  // required: a declared Purpose ID
	Scopes  []Scope // required: what the holder may do
	// Duration is how long the grant lasts. Zero means the purpose's
	// MaxDuration; longer than that is an error.
	Duration time.Duration
}

// GrantFilter selects grants in Ledger.Grants and Ledger.RevokeAll. Empty
// fields match everything; Thing matches grants with a scope naming that
// thing or AllThings.
//
// A GrantFilter is a plain value: copies are independent, and it is safe
// for concurrent reads but not for a write concurrent with other use.
type GrantFilter struct {
	Subject string // grants of this data subject
	Holder  string // grants to this client
	Thing   string // grants naming this thing (or AllThings)
	// Status, when not empty, keeps only grants in that state.
	Status Status
}

// grantState is the ledger's live record of a grant. The immutable fields
// are set before the state is published; revoked is read without locks on
// the Authorize fast path.
type grantState struct {
	g         Grant
	nonce     []byte // opens the audit entry's commitment to the grant
	scope     *scopeSet
	purpose   *Purpose
	revoked   atomic.Bool
	revokedAt time.Time // guarded by Ledger.mu
	expires   int64     // UnixNano of g.Expires
}

func (gs *grantState) status(now time.Time) Status {
	switch {
	case gs.revoked.Load():
		return StatusRevoked
	case now.UnixNano() >= gs.expires:
		return StatusExpired
	}
	return StatusActive
}

// snapshot returns a copy of the grant callers may keep. Ledger.mu must be
// held (for revokedAt).
func (gs *grantState) snapshot(now time.Time) Grant {
	g := gs.g
	g.Scopes = cloneScopes(gs.g.Scopes)
	g.Revoked = gs.revokedAt
	g.Status = gs.status(now)
	return g
}

func (gs *grantState) matches(f GrantFilter, now time.Time) bool {
	if f.Subject != "" && gs.g.Subject != f.Subject {
		return false
	}
	if f.Holder != "" && gs.g.Holder != f.Holder {
		return false
	}
	if f.Thing != "" && !slices.ContainsFunc(gs.g.Scopes, func(s Scope) bool {
		return s.Thing == f.Thing || s.Thing == AllThings
	}) {
		return false
	}
	if f.Status != "" && gs.status(now) != f.Status {
		return false
	}
	return true
}
