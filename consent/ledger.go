package consent

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/hearth-wot/hearth/gateway/access"
)

// Controller identifies who is responsible for the processing (the GDPR
// "controller"): the consent receipts name it.
//
// A Controller is a plain value: copies are independent, and it is safe for
// concurrent reads but not for a write concurrent with other use.
type Controller struct {
	Name         string `json:"piiController"`              // legal name
	Contact      string `json:"contact,omitempty"`          // a person or office
	Email        string `json:"email,omitempty"`            // where to write about one's data
	URL          string `json:"piiControllerUrl,omitempty"` // the controller's site
	PolicyURL    string `json:"policyUrl,omitempty"`        // the privacy policy
	Jurisdiction string `json:"jurisdiction,omitempty"`     // such as "EU" or "DE"
}

// Config configures a Ledger. The zero value works: an in-memory ledger
// that signs with a fresh Ed25519 key and knows no purposes (so grants
// need Purposes to be set to be useful).
//
// New only reads a Config and copies what it keeps (the Store and Logger
// it names are then used concurrently), so one value may be shared by
// concurrent calls; it is not safe to modify while one is running.
type Config struct {
	// Issuer is the iss claim of every token and the OAuth issuer
	// identifier. The HTTP handler needs an https URL (http is allowed for
	// loopback hosts). Zero means "urn:hearth:consent".
	Issuer string
	// Audience is the aud claim of every token: the resource server (the
	// gateway) tokens are for. Zero means "urn:hearth:gateway".
	Audience string
	// Store keeps the ledger's records. Zero means a MemoryStore: nothing
	// survives the process. Use OpenFileStore for the durable default. The
	// Ledger closes the Store when it is closed. A Store that is not a
	// Compactor cannot drop erased or purged records: Erase and Purge then
	// fail with ErrNotErasable.
	Store Store
	// Purposes is the registry of declared purposes. Grants must name one.
	Purposes []Purpose
	// Clients are the applications that may obtain tokens over OAuth.
	Clients []Client
	// Controller names the party responsible for the processing, for
	// consent receipts.
	Controller Controller
	// Algorithm is the token signing algorithm: AlgEdDSA (zero) or AlgES256.
	Algorithm string
	// AccessTokenLifetime is how long an access token lives. Zero means
	// 10 minutes. Tokens never outlive their grant.
	AccessTokenLifetime time.Duration
	// ClockSkew is the leeway allowed on exp, nbf and iat. Zero means 30
	// seconds.
	ClockSkew time.Duration
	// KeyRotation is how old the signing key may grow before Run replaces
	// it. Zero means 30 days; negative means Run never rotates keys.
	KeyRotation time.Duration
	// CacheSize bounds the cache of verified tokens. Zero means 4096;
	// negative disables the cache.
	CacheSize int
	// AuditKey signs audit checkpoints and receipts; it must be an Ed25519
	// key. Zero means a key the ledger generates once and keeps in Store.
	AuditKey crypto.Signer
	// AuditOrigin names the audit log in its checkpoints (a
	// golang.org/x/mod/sumdb/note key name: no spaces or '+'). Zero means
	// one derived from Issuer.
	AuditOrigin string
	// PurgeInterval is how often Run purges ended grants. Zero means an hour.
	PurgeInterval time.Duration
	// CompactEvery is how many records the store may gain before Run
	// compacts it. Zero means 10000; negative means never.
	CompactEvery int
	// Logger receives the ledger's logs. Nil discards them. Tokens and
	// secrets are never logged.
	Logger *slog.Logger
}

// Exporter is a source of a data subject's data for Ledger.Export, such as
// a gateway's property history. ExportSubject must return valid JSON (or
// nil for nothing) and be safe for concurrent use.
type Exporter interface {
	ExportSubject(ctx context.Context, subject string) (json.RawMessage, error)
}

// Eraser is a place where a data subject's data lives, for Ledger.Erase.
// EraseSubject must be idempotent (Erase retries it) and safe for
// concurrent use.
type Eraser interface {
	EraseSubject(ctx context.Context, subject string) error
}

// A Ledger records consents (grants), issues and checks the tokens that
// carry them, keeps a tamper-evident audit log of every change, and serves
// data-subject rights. It implements access.Authorizer,
// access.RevocationNotifier and access.HistoryPolicy.
//
// A Ledger is safe for concurrent use.
type Ledger struct {
	issuer, audience string
	alg              string
	accessTTL, skew  time.Duration
	keyRotation      time.Duration
	purgeInterval    time.Duration
	compactEvery     int
	controller       Controller
	purposes         map[string]*Purpose
	purposeList      []Purpose
	clients          map[string]*Client
	store            Store
	logger           *slog.Logger
	cache            *tokenCache
	origin           string
	configAuditKey   crypto.Signer

	ring    atomic.Pointer[keyRing]
	durable atomic.Int64 // audit entries known durable
	closedF atomic.Bool

	mu        sync.RWMutex
	grants    map[string]*grantState
	bySubject map[string]map[string]*grantState
	byThing   map[string]map[string]*grantState
	families  map[string]*family
	refresh   map[[32]byte]*family
	subjects  map[string][]byte // subject -> pseudonym salt
	keys      []*signingKey
	auditSeed []byte // stored audit key seed, if the ledger made it
	audit     *auditLog
	signer    *auditSigner
	records   int // records appended since open or the last compaction
	failed    error

	subMu   sync.Mutex
	subs    map[uint64]func(access.Revocation)
	nextSub uint64

	rightsMu  sync.Mutex
	exporters map[string]Exporter
	erasers   map[string]Eraser
}

var (
	_ access.Authorizer         = (*Ledger)(nil)
	_ access.RevocationNotifier = (*Ledger)(nil)
	_ access.HistoryPolicy      = (*Ledger)(nil)
)

// family is a chain of refresh tokens issued from one authorization, and
// the access tokens issued with them.
type family struct {
	id      string
	grant   *grantState
	client  string
	scope   *scopeSet
	created time.Time
	revoked atomic.Bool
	current [32]byte   // guarded by Ledger.mu
	spent   [][32]byte // guarded by Ledger.mu; oldest first
}

// New opens a Ledger: it validates cfg, replays the store, and creates the
// signing keys the first time.
func New(ctx context.Context, cfg Config) (*Ledger, error) {
	l := &Ledger{
		issuer:         cfg.Issuer,
		audience:       cfg.Audience,
		alg:            cfg.Algorithm,
		accessTTL:      cfg.AccessTokenLifetime,
		skew:           cfg.ClockSkew,
		keyRotation:    cfg.KeyRotation,
		purgeInterval:  cfg.PurgeInterval,
		compactEvery:   cfg.CompactEvery,
		controller:     cfg.Controller,
		store:          cfg.Store,
		logger:         cfg.Logger,
		origin:         cfg.AuditOrigin,
		configAuditKey: cfg.AuditKey,
		purposes:       make(map[string]*Purpose),
		clients:        make(map[string]*Client),
		grants:         make(map[string]*grantState),
		bySubject:      make(map[string]map[string]*grantState),
		byThing:        make(map[string]map[string]*grantState),
		families:       make(map[string]*family),
		refresh:        make(map[[32]byte]*family),
		subjects:       make(map[string][]byte),
		audit:          newAuditLog(),
		subs:           make(map[uint64]func(access.Revocation)),
		exporters:      make(map[string]Exporter),
		erasers:        make(map[string]Eraser),
	}
	if err := l.configure(cfg); err != nil {
		return nil, err
	}
	if l.store == nil {
		l.store = NewMemoryStore()
	}
	if err := l.replay(ctx); err != nil {
		return nil, err
	}
	if err := l.bootstrap(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Ledger) configure(cfg Config) error {
	var errs []error
	if l.issuer == "" {
		l.issuer = "urn:hearth:consent"
	}
	if l.audience == "" {
		l.audience = "urn:hearth:gateway"
	}
	if l.alg == "" {
		l.alg = AlgEdDSA
	}
	if l.alg != AlgEdDSA && l.alg != AlgES256 {
		errs = append(errs, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidRequest, l.alg))
	}
	if l.accessTTL == 0 {
		l.accessTTL = 10 * time.Minute
	}
	if l.skew == 0 {
		l.skew = 30 * time.Second
	}
	if l.keyRotation == 0 {
		l.keyRotation = 30 * 24 * time.Hour
	}
	if l.purgeInterval == 0 {
		l.purgeInterval = time.Hour
	}
	if l.compactEvery == 0 {
		l.compactEvery = 10000
	}
	if l.accessTTL < 0 || l.skew < 0 || l.purgeInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: negative duration in Config", ErrInvalidRequest))
	}
	switch {
	case cfg.CacheSize == 0:
		l.cache = newTokenCache(4096)
	case cfg.CacheSize > 0:
		l.cache = newTokenCache(cfg.CacheSize)
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.origin == "" {
		l.origin = originFromIssuer(l.issuer)
	}
	if l.origin == "" || strings.ContainsFunc(l.origin, unicode.IsSpace) || strings.Contains(l.origin, "+") {
		errs = append(errs, fmt.Errorf("%w: audit origin %q is not a valid note name", ErrInvalidRequest, l.origin))
	}
	for _, p := range cfg.Purposes {
		if err := p.normalize(); err != nil {
			errs = append(errs, err)
			continue
		}
		if l.purposes[p.ID] != nil {
			errs = append(errs, fmt.Errorf("%w: purpose %q declared twice", ErrInvalidRequest, p.ID))
			continue
		}
		l.purposes[p.ID] = &p
		l.purposeList = append(l.purposeList, p)
	}
	for _, c := range cfg.Clients {
		if err := c.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if l.clients[c.ID] != nil {
			errs = append(errs, fmt.Errorf("%w: client %q registered twice", ErrInvalidRequest, c.ID))
			continue
		}
		for _, p := range c.Purposes {
			if l.purposes[p] == nil {
				errs = append(errs, fmt.Errorf("%w: client %q names purpose %q", ErrUnknownPurpose, c.ID, p))
			}
		}
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.Purposes = slices.Clone(c.Purposes)
		l.clients[c.ID] = &c
	}
	return errors.Join(errs...)
}

// originFromIssuer derives an audit log name from the issuer: the host and
// path of a URL, or the issuer itself with unusable characters replaced.
func originFromIssuer(iss string) string {
	if u, err := url.Parse(iss); err == nil && u.Host != "" {
		iss = u.Host + strings.TrimSuffix(u.Path, "/")
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '+' {
			return '_'
		}
		return r
	}, iss)
}

func (l *Ledger) replay(ctx context.Context) error {
	n := 0
	for rec, err := range l.store.Records(ctx) {
		if err != nil {
			return fmt.Errorf("consent: load store: %w", err)
		}
		ops, err := decodeTxn(rec)
		if err == nil {
			err = l.apply(ops)
		}
		if err != nil {
			return fmt.Errorf("consent: load store: record %d: %w", n, err)
		}
		n++
	}
	l.records = n
	l.durable.Store(l.audit.size())
	l.logger.Debug("consent: ledger loaded", "records", n, "grants", len(l.grants), "audit", l.audit.size())
	return nil
}

// bootstrap creates what a new ledger lacks: the audit key and a signing
// key.
func (l *Ledger) bootstrap(ctx context.Context) error {
	now := time.Now()
	var ops []txOp
	if l.configAuditKey == nil && l.auditSeed == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		ops = append(ops, txOp{Kind: opAuditKey, Seed: priv.Seed()})
	}
	if cur := l.currentKey(); cur == nil || cur.algName != l.alg {
		k, err := generateKey(l.alg, now)
		if err != nil {
			return err
		}
		if cur != nil {
			ops = append(ops, txOp{Kind: opRetireKey, ID: cur.kid, At: now.UnixNano(), Until: now.Add(l.accessTTL + l.skew).UnixNano()})
		}
		ops = append(ops, txOp{Kind: opKey, Key: k.record()})
	}
	if len(ops) > 0 {
		l.mu.Lock()
		_, err := l.commitLocked(ops)
		l.mu.Unlock()
		if err == nil {
			err = l.sync(ctx, 0)
		}
		if err != nil {
			return err
		}
	}
	key := l.configAuditKey
	if key == nil {
		key = ed25519.NewKeyFromSeed(l.auditSeed)
	}
	s, err := newAuditSigner(l.origin, key)
	if err != nil {
		return err
	}
	l.signer = s
	return nil
}

func (l *Ledger) currentKey() *signingKey {
	if r := l.ring.Load(); r != nil {
		return r.current
	}
	return nil
}

// apply changes the in-memory state by ops. It is used both for live
// changes (with l.mu held) and for replay, so they cannot diverge.
func (l *Ledger) apply(ops []txOp) error {
	keysChanged := false
	for i := range ops {
		op := &ops[i]
		var err error
		switch op.Kind {
		case opAuditKey:
			if len(op.Seed) != ed25519.SeedSize {
				err = fmt.Errorf("%w: bad audit key", ErrCorrupt)
			}
			l.auditSeed = op.Seed
		case opKey:
			var k *signingKey
			if op.Key == nil {
				err = fmt.Errorf("%w: key record without key", ErrCorrupt)
				break
			}
			if k, err = keyFromRecord(op.Key); err == nil {
				l.keys = append(l.keys, k)
				keysChanged = true
			}
		case opRetireKey:
			err = fmt.Errorf("%w: retiring unknown key", ErrCorrupt)
			for j, k := range l.keys {
				if k.kid == op.ID {
					c := *k
					c.retired, c.until = fromUnixNano(op.At), fromUnixNano(op.Until)
					l.keys[j] = &c
					keysChanged, err = true, nil
				}
			}
		case opSubject:
			if op.ID == "" || len(op.Salt) != 32 {
				err = fmt.Errorf("%w: bad subject record", ErrCorrupt)
				break
			}
			l.subjects[op.ID] = op.Salt
		case opForget:
			if salt := l.subjects[op.ID]; salt != nil {
				delete(l.audit.bySubject, pseudonym(salt, op.ID))
				delete(l.subjects, op.ID)
			}
		case opGrant:
			err = l.applyGrant(op.Grant)
		case opRevoke:
			gs := l.grants[op.ID]
			if gs == nil {
				err = fmt.Errorf("%w: revoking unknown grant", ErrCorrupt)
				break
			}
			if !gs.revoked.Load() {
				gs.revokedAt = fromUnixNano(op.At)
				gs.revoked.Store(true)
			}
		case opDelete:
			err = l.applyDelete(op.ID)
		case opFamily:
			err = l.applyFamily(op.Family)
		case opRotate:
			f := l.families[op.ID]
			if f == nil || len(op.Hash) != 32 {
				err = fmt.Errorf("%w: bad rotation", ErrCorrupt)
				break
			}
			f.spent = append(f.spent, f.current)
			if len(f.spent) > maxSpentKept {
				delete(l.refresh, f.spent[0])
				f.spent = slices.Delete(f.spent, 0, 1)
			}
			f.current = [32]byte(op.Hash)
			l.refresh[f.current] = f
		case opRevokeFam:
			f := l.families[op.ID]
			if f == nil {
				err = fmt.Errorf("%w: revoking unknown token family", ErrCorrupt)
				break
			}
			f.revoked.Store(true)
		case opAudit:
			err = l.audit.append(op.Entry, op.pseudonym)
		default:
			err = fmt.Errorf("%w: unknown operation %q", ErrCorrupt, op.Kind)
		}
		if err != nil {
			return err
		}
	}
	if keysChanged {
		l.ring.Store(newRing(l.keys))
	}
	return nil
}

func (l *Ledger) applyGrant(r *grantRec) error {
	if r == nil || r.ID == "" || r.Subject == "" || r.Holder == "" || len(r.Nonce) == 0 {
		return fmt.Errorf("%w: incomplete grant record", ErrCorrupt)
	}
	if l.grants[r.ID] != nil {
		return fmt.Errorf("%w: grant %s recorded twice", ErrCorrupt, r.ID)
	}
	if err := validateScopes(r.Scopes); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	p := l.purposes[r.Purpose]
	if p == nil {
		// The purpose is no longer declared: the consent still stands
		// as given, but permits no history and keeps nothing after it ends.
		p = &Purpose{ID: r.Purpose, Description: "(purpose no longer declared)", LawfulBasis: BasisConsent, MaxDuration: DefaultMaxDuration}
		l.logger.Warn("consent: grant names an undeclared purpose", "grant", r.ID, "purpose", r.Purpose)
	}
	gs := &grantState{
		g: Grant{
			ID: r.ID, Subject: r.Subject, Holder: r.Holder, Purpose: r.Purpose,
			Scopes: r.Scopes, Created: fromUnixNano(r.Created), Expires: fromUnixNano(r.Expires),
			AuditIndex: r.Audit,
		},
		nonce:   r.Nonce,
		scope:   compileScopes(r.Scopes),
		purpose: p,
		expires: r.Expires,
	}
	if r.Revoked != 0 {
		gs.revokedAt = fromUnixNano(r.Revoked)
		gs.revoked.Store(true)
	}
	l.grants[r.ID] = gs
	addIndex(l.bySubject, r.Subject, gs)
	for _, s := range r.Scopes {
		addIndex(l.byThing, s.Thing, gs)
	}
	return nil
}

func addIndex(idx map[string]map[string]*grantState, key string, gs *grantState) {
	m := idx[key]
	if m == nil {
		m = make(map[string]*grantState)
		idx[key] = m
	}
	m[gs.g.ID] = gs
}

func dropIndex(idx map[string]map[string]*grantState, key, id string) {
	if m := idx[key]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(idx, key)
		}
	}
}

func (l *Ledger) applyDelete(id string) error {
	gs := l.grants[id]
	if gs == nil {
		return fmt.Errorf("%w: deleting unknown grant", ErrCorrupt)
	}
	gs.revoked.Store(true)
	delete(l.grants, id)
	dropIndex(l.bySubject, gs.g.Subject, id)
	for _, s := range gs.g.Scopes {
		dropIndex(l.byThing, s.Thing, id)
	}
	for fid, f := range l.families {
		if f.grant == gs {
			f.revoked.Store(true)
			delete(l.refresh, f.current)
			for _, h := range f.spent {
				delete(l.refresh, h)
			}
			delete(l.families, fid)
		}
	}
	return nil
}

func (l *Ledger) applyFamily(r *familyRec) error {
	if r == nil || r.ID == "" || len(r.Current) != 32 {
		return fmt.Errorf("%w: incomplete token family record", ErrCorrupt)
	}
	gs := l.grants[r.Grant]
	if gs == nil || l.families[r.ID] != nil {
		return fmt.Errorf("%w: token family %s does not fit its grant", ErrCorrupt, r.ID)
	}
	scopes, err := ParseScopes(r.Scope)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	f := &family{id: r.ID, grant: gs, client: r.Client, created: fromUnixNano(r.Created), current: [32]byte(r.Current)}
	f.scope = gs.scope
	if f.scope.text != r.Scope {
		f.scope = compileScopes(scopes)
	}
	for _, h := range r.Spent {
		if len(h) != 32 {
			return fmt.Errorf("%w: bad spent token hash", ErrCorrupt)
		}
		f.spent = append(f.spent, [32]byte(h))
		l.refresh[[32]byte(h)] = f
	}
	f.revoked.Store(r.Revoked)
	l.families[r.ID] = f
	l.refresh[f.current] = f
	return nil
}

// commitLocked applies ops and appends them to the store as one record.
// l.mu must be held for writing. The caller must then call l.sync, without
// the lock, before acknowledging the change; it returns the audit log size
// to pass to it.
func (l *Ledger) commitLocked(ops []txOp) (int64, error) {
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	rec, err := encodeTxn(ops)
	if err != nil {
		return 0, fmt.Errorf("consent: encode record: %w", err)
	}
	if err := l.apply(ops); err != nil {
		return 0, fmt.Errorf("consent: internal error applying record: %w", err)
	}
	if err := l.store.Append(rec); err != nil {
		return 0, l.failLocked(err)
	}
	l.records++
	return l.audit.size(), nil
}

// sync waits until everything appended so far is durable. A write that
// must complete is not cancelled by the caller's context.
func (l *Ledger) sync(ctx context.Context, auditSize int64) error {
	if err := l.store.Sync(context.WithoutCancel(ctx)); err != nil {
		l.mu.Lock()
		err = l.failLocked(err)
		l.mu.Unlock()
		return err
	}
	for {
		cur := l.durable.Load()
		if auditSize <= cur || l.durable.CompareAndSwap(cur, auditSize) {
			return nil
		}
	}
}

func (l *Ledger) writableLocked() error {
	if l.closedF.Load() {
		return ErrClosed
	}
	return l.failed
}

func (l *Ledger) failLocked(err error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	if l.failed == nil {
		if !errors.Is(err, ErrStoreFailed) {
			err = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		}
		l.failed = err
		l.logger.Error("consent: store failed; the ledger refuses changes until reopened", "err", err)
	}
	return l.failed
}

// Close closes the ledger and its store. Authorize then fails; pending
// writes finish first.
func (l *Ledger) Close() error {
	if l.closedF.Swap(true) {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.store.Close()
}

// Purposes returns the declared purposes.
func (l *Ledger) Purposes() []Purpose { return slices.Clone(l.purposeList) }

// Purpose returns the declared purpose with the given id.
func (l *Ledger) Purpose(id string) (Purpose, bool) {
	p := l.purposes[id]
	if p == nil {
		return Purpose{}, false
	}
	return *p, true
}

// Client returns the registered client with the given id.
func (l *Ledger) Client(id string) (Client, bool) {
	c := l.clients[id]
	if c == nil {
		return Client{}, false
	}
	cc := *c
	cc.RedirectURIs = slices.Clone(c.RedirectURIs)
	cc.Purposes = slices.Clone(c.Purposes)
	return cc, true
}

// Issuer returns the ledger's issuer identifier.
func (l *Ledger) Issuer() string { return l.issuer }

// newID returns a random identifier (128 bits, base32).
func newID() string { return rand.Text() }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pseudonymLocked returns the subject's pseudonym, creating its salt (as
// an op appended to ops) if it has none. l.mu must be held for writing.
func (l *Ledger) pseudonymLocked(subject string, ops *[]txOp) string {
	salt := l.subjects[subject]
	if salt == nil {
		salt = randomBytes(32)
		*ops = append(*ops, txOp{Kind: opSubject, ID: subject, Salt: salt})
	}
	return pseudonym(salt, subject)
}

// pseudonym is the keyed hash that stands for a subject in the audit log.
// Without the salt, which erasure destroys, it cannot be linked to the
// subject again.
func pseudonym(salt []byte, subject string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(subject))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// auditOp builds the op that appends e to the audit log.
func auditOp(e AuditEntry) txOp {
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if !e.Expires.IsZero() {
		e.Expires = e.Expires.UTC().Truncate(time.Millisecond)
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic("consent: audit entry does not encode: " + err.Error())
	}
	return txOp{Kind: opAudit, Entry: b, pseudonym: &e.Subject}
}

// GrantTerms are the terms of a grant that its audit entry commits to and
// its consent receipt discloses.
//
// A GrantTerms is a plain value: copies are independent, and it is safe for
// concurrent reads but not for a write concurrent with other use.
type GrantTerms struct {
	Grant   string      `json:"grant"`   // grant id
	Subject string      `json:"subject"` // the data subject
	Holder  string      `json:"holder"`  // the client
	Purpose string      `json:"purpose"` // purpose id
	Basis   LawfulBasis `json:"basis"`   // the purpose's lawful basis
	Scope   string      `json:"scope"`   // FormatScopes form
	Created int64       `json:"created"` // UnixNano
	Expires int64       `json:"expires"` // UnixNano
}

// Commit returns the hex SHA-256 of nonce followed by the JSON encoding of
// t: the commitment an audit entry carries.
func (t GrantTerms) Commit(nonce []byte) string {
	b, _ := json.Marshal(t)
	h := sha256.New()
	h.Write(nonce)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (gs *grantState) terms() GrantTerms {
	return GrantTerms{
		Grant: gs.g.ID, Subject: gs.g.Subject, Holder: gs.g.Holder, Purpose: gs.g.Purpose,
		Basis: gs.purpose.LawfulBasis, Scope: gs.scope.text,
		Created: unixNano(gs.g.Created), Expires: gs.expires,
	}
}

// Grant records a consent: durably, with an audit entry, before it
// returns.
func (l *Ledger) Grant(ctx context.Context, req GrantRequest) (Grant, error) {
	if err := l.checkGrantRequest(&req); err != nil {
		return Grant{}, err
	}
	p := l.purposes[req.Purpose]
	now := time.Now()
	l.mu.Lock()
	var ops []txOp
	pseudo := l.pseudonymLocked(req.Subject, &ops)
	rec := &grantRec{
		ID: newID(), Subject: req.Subject, Holder: req.Holder, Purpose: req.Purpose,
		Scopes: cloneScopes(req.Scopes), Created: now.UnixNano(), Expires: now.Add(req.Duration).UnixNano(),
		Nonce: randomBytes(16), Audit: l.audit.size(),
	}
	terms := GrantTerms{
		Grant: rec.ID, Subject: rec.Subject, Holder: rec.Holder, Purpose: rec.Purpose, Basis: p.LawfulBasis,
		Scope: FormatScopes(rec.Scopes), Created: rec.Created, Expires: rec.Expires,
	}
	ops = append(ops, txOp{Kind: opGrant, Grant: rec}, auditOp(AuditEntry{
		Time: now, Event: EventGrant, Grant: rec.ID, Subject: pseudo, Holder: rec.Holder,
		Purpose: rec.Purpose, Basis: p.LawfulBasis, Expires: fromUnixNano(rec.Expires), Commit: terms.Commit(rec.Nonce),
	}))
	size, err := l.commitLocked(ops)
	var g Grant
	if err == nil {
		g = l.grants[rec.ID].snapshot(now)
	}
	l.mu.Unlock()
	if err != nil {
		return Grant{}, err
	}
	if err := l.sync(ctx, size); err != nil {
		return Grant{}, err
	}
	return g, nil
}

func (l *Ledger) checkGrantRequest(req *GrantRequest) error {
	var errs []error
	if req.Subject == "" || len(req.Subject) > 256 {
		errs = append(errs, fmt.Errorf("%w: subject must be 1 to 256 bytes", ErrInvalidRequest))
	}
	if req.Holder == "" || len(req.Holder) > 256 {
		errs = append(errs, fmt.Errorf("%w: holder must be 1 to 256 bytes", ErrInvalidRequest))
	}
	p := l.purposes[req.Purpose]
	if p == nil {
		errs = append(errs, fmt.Errorf("%w: %q", ErrUnknownPurpose, req.Purpose))
	} else {
		switch {
		case req.Duration < 0:
			errs = append(errs, fmt.Errorf("%w: negative duration", ErrInvalidRequest))
		case req.Duration == 0:
			req.Duration = p.MaxDuration
		case req.Duration > p.MaxDuration:
			errs = append(errs, fmt.Errorf("%w: duration %v exceeds the %v purpose %q allows", ErrInvalidRequest, req.Duration, p.MaxDuration, p.ID))
		}
	}
	if c := l.clients[req.Holder]; c != nil && len(c.Purposes) > 0 && !slices.Contains(c.Purposes, req.Purpose) {
		errs = append(errs, fmt.Errorf("%w: client %q may not ask for purpose %q", ErrUnknownPurpose, req.Holder, req.Purpose))
	}
	errs = append(errs, validateScopes(req.Scopes))
	return errors.Join(errs...)
}

// Get returns the grant with the given id.
func (l *Ledger) Get(id string) (Grant, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	gs := l.grants[id]
	if gs == nil {
		return Grant{}, fmt.Errorf("%w: grant %q", ErrNotFound, id)
	}
	return gs.snapshot(time.Now()), nil
}

// Grants lists the grants f selects, oldest first.
func (l *Ledger) Grants(f GrantFilter) []Grant {
	now := time.Now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []Grant
	for _, gs := range l.candidatesLocked(f) {
		if gs.matches(f, now) {
			out = append(out, gs.snapshot(now))
		}
	}
	slices.SortFunc(out, func(a, b Grant) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// candidatesLocked narrows the grants to scan for f using the indexes.
func (l *Ledger) candidatesLocked(f GrantFilter) map[string]*grantState {
	switch {
	case f.Subject != "":
		return l.bySubject[f.Subject]
	case f.Thing != "":
		m := make(map[string]*grantState)
		for id, gs := range l.byThing[f.Thing] {
			m[id] = gs
		}
		for id, gs := range l.byThing[AllThings] {
			m[id] = gs
		}
		return m
	}
	return l.grants
}

// Revoke withdraws a grant: every token issued under it stops working at
// once (also in the Authorize cache), revocation subscribers are told, and
// the revocation is durable and audited before Revoke returns. Revoking a
// revoked grant does nothing.
func (l *Ledger) Revoke(ctx context.Context, grantID string) error {
	now := time.Now()
	l.mu.Lock()
	gs := l.grants[grantID]
	if gs == nil {
		l.mu.Unlock()
		return fmt.Errorf("%w: grant %q", ErrNotFound, grantID)
	}
	if gs.revoked.Load() {
		l.mu.Unlock()
		return nil
	}
	ops := l.revokeOpsLocked(gs, now, nil)
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.notify(grantID)
	return l.sync(ctx, size)
}

func (l *Ledger) revokeOpsLocked(gs *grantState, now time.Time, ops []txOp) []txOp {
	return append(ops, txOp{Kind: opRevoke, ID: gs.g.ID, At: now.UnixNano()}, auditOp(AuditEntry{
		Time: now, Event: EventRevoke, Grant: gs.g.ID, Subject: l.pseudonymLocked(gs.g.Subject, &ops),
		Holder: gs.g.Holder, Purpose: gs.g.Purpose,
	}))
}

// RevokeAll revokes, in one durable step, every active grant of a subject
// or of a holder (f.Subject or f.Holder must be set; f.Thing narrows
// further). It returns how many grants it revoked.
func (l *Ledger) RevokeAll(ctx context.Context, f GrantFilter) (int, error) {
	if f.Subject == "" && f.Holder == "" {
		return 0, fmt.Errorf("%w: RevokeAll needs a subject or a holder", ErrInvalidRequest)
	}
	f.Status = StatusActive
	now := time.Now()
	l.mu.Lock()
	var ops []txOp
	var ids []string
	for _, gs := range l.candidatesLocked(f) {
		if gs.matches(f, now) {
			ops = l.revokeOpsLocked(gs, now, ops)
			ids = append(ids, gs.g.ID)
		}
	}
	if len(ops) == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	l.notify(ids...)
	return len(ids), l.sync(ctx, size)
}

// Delete removes a grant and its token families from the ledger (revoking
// them first). Only its audit entries, which name the subject by
// pseudonym, remain.
func (l *Ledger) Delete(ctx context.Context, grantID string) error {
	now := time.Now()
	l.mu.Lock()
	gs := l.grants[grantID]
	if gs == nil {
		l.mu.Unlock()
		return fmt.Errorf("%w: grant %q", ErrNotFound, grantID)
	}
	ops := l.deleteOpsLocked(gs, now, EventDelete, nil)
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.notify(grantID)
	return l.sync(ctx, size)
}

func (l *Ledger) deleteOpsLocked(gs *grantState, now time.Time, event string, ops []txOp) []txOp {
	return append(ops, txOp{Kind: opDelete, ID: gs.g.ID}, auditOp(AuditEntry{
		Time: now, Event: event, Grant: gs.g.ID, Subject: l.pseudonymLocked(gs.g.Subject, &ops),
		Holder: gs.g.Holder, Purpose: gs.g.Purpose,
	}))
}

// SubscribeRevocations calls fn whenever a grant is revoked or deleted
// (Revocation.GrantID), or a token family of a grant is revoked (then
// Revocation.TokenID names the family, as Decision.TokenID does for its
// tokens: only what was opened with that family should be closed). fn is
// called from the revoking goroutine, possibly concurrently; it must not
// block for long.
func (l *Ledger) SubscribeRevocations(fn func(access.Revocation)) (cancel func()) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	id := l.nextSub
	l.nextSub++
	l.subs[id] = fn
	return func() {
		l.subMu.Lock()
		defer l.subMu.Unlock()
		delete(l.subs, id)
	}
}

func (l *Ledger) notify(grantIDs ...string) {
	l.subMu.Lock()
	fns := make([]func(access.Revocation), 0, len(l.subs))
	for _, fn := range l.subs {
		fns = append(fns, fn)
	}
	l.subMu.Unlock()
	for _, id := range grantIDs {
		for _, fn := range fns {
			fn(access.Revocation{GrantID: id})
		}
	}
}

// notifyFamily tells the subscribers that the token family f alone is
// revoked.
func (l *Ledger) notifyFamily(f *family) {
	l.subMu.Lock()
	fns := make([]func(access.Revocation), 0, len(l.subs))
	for _, fn := range l.subs {
		fns = append(fns, fn)
	}
	l.subMu.Unlock()
	r := access.Revocation{GrantID: f.grant.g.ID, TokenID: f.id}
	for _, fn := range fns {
		fn(r)
	}
}

// RotateKey makes a new token signing key current. The previous key keeps
// verifying (and stays in the JWKS) until the last token it signed has
// expired.
func (l *Ledger) RotateKey(ctx context.Context) error {
	now := time.Now()
	k, err := generateKey(l.alg, now)
	if err != nil {
		return err
	}
	l.mu.Lock()
	ops := []txOp{{Kind: opKey, Key: k.record()}}
	if cur := l.currentKey(); cur != nil {
		ops = append([]txOp{{Kind: opRetireKey, ID: cur.kid, At: now.UnixNano(), Until: now.Add(l.accessTTL + l.skew).UnixNano()}}, ops...)
	}
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.logger.Info("consent: signing key rotated", "kid", k.kid)
	return l.sync(ctx, size)
}

// JWKS returns the JSON Web Key Set that verifies the ledger's tokens:
// the current key and every retired key whose tokens may still be live.
func (l *Ledger) JWKS() ([]byte, error) {
	return l.ring.Load().jwks(time.Now())
}

// Compact rewrites the store with only what the ledger still needs: live
// grants, token families, keys and the whole audit log. It does nothing if
// the store is not a Compactor (Erase and Purge, which must drop records,
// report ErrNotErasable instead).
func (l *Ledger) Compact(ctx context.Context) error {
	c, ok := l.store.(Compactor)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	recs, err := l.snapshotLocked(time.Now())
	if err != nil {
		return err
	}
	if err := c.Compact(context.WithoutCancel(ctx), recs); err != nil {
		if errors.Is(err, ErrStoreFailed) {
			return l.failLocked(err)
		}
		return err
	}
	l.records = len(recs)
	return nil
}

// snapshotLocked encodes the current state as store records.
func (l *Ledger) snapshotLocked(now time.Time) ([][]byte, error) {
	var recs [][]byte
	var ops []txOp
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		b, err := encodeTxn(ops)
		if err != nil {
			return err
		}
		recs = append(recs, b)
		ops = nil
		return nil
	}
	add := func(op txOp) error {
		ops = append(ops, op)
		if len(ops) >= 256 {
			return flush()
		}
		return nil
	}
	var err error
	if l.auditSeed != nil {
		err = errors.Join(err, add(txOp{Kind: opAuditKey, Seed: l.auditSeed}))
	}
	for _, k := range l.keys {
		if k.live(now) {
			err = errors.Join(err, add(txOp{Kind: opKey, Key: k.record()}))
		}
	}
	for s, salt := range l.subjects {
		err = errors.Join(err, add(txOp{Kind: opSubject, ID: s, Salt: salt}))
	}
	for _, gs := range l.grants {
		err = errors.Join(err, add(txOp{Kind: opGrant, Grant: &grantRec{
			ID: gs.g.ID, Subject: gs.g.Subject, Holder: gs.g.Holder, Purpose: gs.g.Purpose,
			Scopes: gs.g.Scopes, Created: unixNano(gs.g.Created), Expires: gs.expires,
			Revoked: unixNano(gs.revokedAt), Nonce: gs.nonce, Audit: gs.g.AuditIndex,
		}}))
	}
	for _, f := range l.families {
		r := &familyRec{ID: f.id, Grant: f.grant.g.ID, Client: f.client, Scope: f.scope.text,
			Created: unixNano(f.created), Current: f.current[:], Revoked: f.revoked.Load()}
		for _, h := range f.spent {
			r.Spent = append(r.Spent, h[:])
		}
		err = errors.Join(err, add(txOp{Kind: opFamily, Family: r}))
	}
	if err = errors.Join(err, flush()); err != nil {
		return nil, err
	}
	// Audit entries keep their order: the Merkle tree depends on it.
	for _, e := range l.audit.entries {
		if err := add(txOp{Kind: opAudit, Entry: e}); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return recs, nil
}

// Run performs the ledger's housekeeping until ctx ends: it purges grants
// whose retention has ended, rotates the signing key when it is older than
// Config.KeyRotation, compacts the store every Config.CompactEvery records
// and drops expired tokens from the cache. It returns ctx's error, or the
// first store failure.
func (l *Ledger) Run(ctx context.Context) error {
	t := time.NewTicker(l.purgeInterval)
	defer t.Stop()
	for {
		if err := l.housekeep(ctx); err != nil && errors.Is(err, ErrStoreFailed) {
			return err
		} else if err != nil {
			l.logger.Warn("consent: housekeeping", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (l *Ledger) housekeep(ctx context.Context) error {
	var errs []error
	if _, err := l.Purge(ctx); err != nil {
		errs = append(errs, err)
	}
	if cur := l.currentKey(); l.keyRotation > 0 && cur != nil && time.Since(cur.created) >= l.keyRotation {
		errs = append(errs, l.RotateKey(ctx))
	}
	l.mu.RLock()
	due := l.compactEvery > 0 && l.records >= l.compactEvery
	l.mu.RUnlock()
	if due {
		errs = append(errs, l.Compact(ctx))
	}
	if l.cache != nil {
		l.cache.sweep(time.Now().UnixNano())
	}
	return errors.Join(errs...)
}
