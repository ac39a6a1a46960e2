// Package consent is Hearth's consent and token ledger: it records who
// consented to which application doing what with which things, for which
// purpose and until when; issues the short-lived tokens that carry those
// consents; answers a gateway's "may this token do that?" at every request;
// keeps a tamper-evident audit log of every change; and serves the data
// subject's rights to see, take away and erase their data.
//
// "You don't get my content if you don't ask me": the package turns the
// GDPR's demands on consent (specific to a purpose, demonstrable, as easy to
// withdraw as to give, time-limited) into properties of the code.
//
// # Tour
//
// A [Ledger] is opened with [New] from a [Config] whose zero value works
// (in memory, Ed25519 keys made on first use). A real deployment names its
// issuer, declares its purposes and clients, and keeps its records in a
// durable [FileStore]:
//
//	store, err := consent.OpenFileStore(filepath.Join(dataDir, "consent.log"), consent.FileStoreOptions{})
//	ledger, err := consent.New(ctx, consent.Config{
//		Issuer:   "https://home.example/auth",
//		Store:    store,
//		Purposes: []consent.Purpose{{ID: "comfort", Description: "Control the lights and heating of your holiday home."}},
//		Clients:  []consent.Client{{ID: "guest-app", Name: "Guest App", RedirectURIs: []string{"https://guest.home.example/cb"}}},
//	})
//	go ledger.Run(ctx) // purges ended grants, rotates keys, compacts the store
//
// A [Grant] is one consent: a data subject (a pseudonymous id), a holder
// (the client application), a declared [Purpose], scopes ([Scope]: a thing id, TD
// operations, optionally affordance names; every thing only when spelled
// out as [AllThings]) and an expiry. [Ledger.Grant] records one;
// [Ledger.IssueTokens] issues an access token (a JWT, RFC 9068 at+jwt) and a
// rotating refresh token for it; [Ledger.Revoke], [Ledger.RevokeAll] and
// [Ledger.Delete] end it. Most grants come from a person over OAuth: the
// [Handler] made by [NewHandler] serves the authorization-code flow with
// PKCE, a consent page that needs no JavaScript, and a page and a JSON API
// where the person sees and withdraws their consents.
//
// The Ledger implements the gateway's seams from package
// gateway/access: [Ledger.Authorize] (access.Authorizer),
// [Ledger.SubscribeRevocations] (access.RevocationNotifier) and
// [Ledger.HistoryConsents] (access.HistoryPolicy). Hand it to a gateway as
// its Authorizer (see Example_gateway); the consent package imports only
// the small access package, never the gateway server, so each can be
// embedded without the other.
//
// # Tokens
//
// Access tokens are JWTs signed with Ed25519 (or ES256, [Config.Algorithm])
// through github.com/lestrrat-go/jwx/v3, ten minutes long by default and
// never longer than their grant. They carry iss, sub (the subject), aud,
// exp, iat, jti, client_id, scope (in [FormatScopes] form) and purpose,
// plus the ids of their grant (gid) and token family (fid). Each signing
// key is bound to one algorithm; the header may name only alg, kid and typ,
// so algorithm confusion, "none", and keys smuggled in through jku, jwk,
// x5u or x5c are refused before any signature is checked. [Ledger.RotateKey]
// (and Run, every [Config.KeyRotation]) makes a new key current; the old
// key stays in the JWKS ([Ledger.JWKS], served at .well-known/jwks.json)
// until the last token it signed has expired.
//
// Refresh tokens are opaque and rotate on every use. All tokens descended
// from one authorization form a family; presenting a spent refresh token
// again means it was stolen, and revokes the whole family
// ([ErrRefreshReuse]).
//
// Authorize verifies a token once and then answers from a bounded cache
// keyed by the token's SHA-256 (tokens themselves are not kept). A cached
// answer is checked against its grant's and family's revocation flags and
// its expiry on every call, so revocation is effective at once; the cached
// path does not allocate. [access.Decision.Scope] is the token's compiled
// scope, shared by every request made with it, which the gateway uses to
// trim Thing Descriptions.
//
// # Audit
//
// Every grant, token issue, refresh, revocation, deletion, purge, export
// and erasure appends an [AuditEntry] to a Merkle tree log hashed as in
// golang.org/x/mod/sumdb/tlog. [Ledger.Checkpoint] signs its size and root
// hash as a golang.org/x/mod/sumdb/note signed note (Ed25519);
// [Ledger.InclusionProof] and [Ledger.ConsistencyProof] prove an entry's
// presence and the log's append-only growth. [Ledger.Receipt] gives the data
// subject a signed consent receipt (fields after the Kantara Consent Receipt
// and ISO/IEC TS 27560) carrying the inclusion proof of their grant's entry.
// A [Verifier], built from [Ledger.AuditVerifierKey] alone, checks
// checkpoints and receipts; [VerifyInclusion] and [VerifyConsistency] check
// proofs.
//
// Entries name the subject only by a pseudonym, a keyed hash whose key
// (one random salt per subject) lives in the ledger's state, never in the
// log, and hold no personal data: a grant's terms (which things, which
// operations) appear only as a hiding commitment that the receipt opens.
//
// # Privacy
//
// How the GDPR's articles map to the code:
//
//   - Art. 5(1)(b) purpose limitation, 6(1) lawfulness: every grant names a
//     declared [Purpose] with its [LawfulBasis]; unknown purposes are
//     refused ([ErrUnknownPurpose]), clients may be limited to some
//     ([Client.Purposes]), and tokens carry the purpose.
//   - Art. 5(1)(c) and 25 minimisation, data protection by default: scopes
//     are per thing, per operation and optionally per affordance, matched
//     as whole segments; "all things" must be written out ([AllThings]);
//     the consent page lets the person untick anything; tokens can be
//     narrowed further ([TokenOptions.Scopes]) and never widened
//     ([ErrScopeExceeded]); the gateway trims what it shows with
//     [access.Decision.Scope].
//   - Art. 5(1)(e) storage limitation: grants always expire (at most
//     [Purpose.MaxDuration]); [Ledger.Purge] (run by [Ledger.Run]) deletes
//     ended grants once [Purpose.Retention] has passed, forgets the
//     pseudonym salt of a subject left with no grants (their old audit
//     entries can no longer be linked to them, and a later grant gets a
//     new pseudonym) and compacts the store so that neither their id nor
//     the purged grants stay on disk; history is recorded
//     only under a purpose with [Purpose.History], and the gateway purges it
//     with that purpose's retention ([Ledger.HistoryConsents]).
//   - Art. 7(1) demonstrable consent: the audit log, its signed checkpoints
//     and the subject's consent receipt ([Ledger.Receipt], [Verifier]).
//   - Art. 7(2) clear request: the consent page shows the application, the
//     things, the access level in plain words, the purpose and its legal
//     basis, the duration and the retention, with Allow and Deny of equal
//     weight.
//   - Art. 7(3) withdrawal as easy as giving: one click on the consents
//     page, one call ([Ledger.Revoke]); effective at once for cached tokens,
//     and subscribers (the gateway's open streams) are told.
//   - Art. 15 access and 20 portability: [Ledger.Export] gathers the
//     subject's grants, purposes, audit entries and the data of every
//     registered [Exporter] (such as the gateway's history) as JSON; the
//     page offers it as a download.
//   - Art. 17 erasure: [Ledger.Erase] revokes everything, erases at every
//     registered [Eraser], deletes the subject's grants and destroys the
//     salt of their pseudonym, so the audit entries that remain can no
//     longer be linked to them; it then compacts the store so the erased
//     records leave the disk. With a [Store] that is not a [Compactor] the
//     records cannot leave it, and Erase says so ([ErrNotErasable]) rather
//     than report success.
//   - Art. 32 security: short-lived signed tokens with an algorithm
//     allow-list per key, PKCE (S256) required, exact redirect URI
//     matching, single-use authorization codes (reuse revokes what the code
//     issued), refresh token rotation with reuse detection, CSRF tokens,
//     same-origin checks and a strict Content-Security-Policy on the pages,
//     body size limits, and secrets that redact themselves ([Secret]) and
//     are never logged. Introspection answers only {"active":false} for
//     anything not valid and only to clients allowed to introspect.
//
// # Storage
//
// The Ledger keeps its state in memory and writes every change ahead to a
// [Store]: an append-only sequence of records, each one transaction (a
// grant together with its audit entry, say), so a crash never separates a
// change from its audit. The Store interface is small (Append, Sync,
// Records, Close, and optionally [Compactor]) so that a SQL database or
// another durable log can take the place of the file; the consenttest
// package checks an implementation against the contract.
//
// The embedded default, [FileStore], writes checksummed (CRC-32C) frames
// to one file and fsyncs (fdatasync on Linux) with group commit: concurrent
// writers share one flush, and a flush waits a moment (at most 200µs) for
// the writers it expects, so eight writers put about eight records in each
// fsync. A change is acknowledged only once it is
// durable. On open, a torn last record (a crash mid-write) is truncated; a
// damaged record followed by intact ones cannot be a torn write and is
// reported as a [*CorruptError] rather than silently dropped. Compaction
// rewrites the file atomically (write, fsync, rename, fsync the directory)
// with only live state and the whole audit log. The file is locked against
// a second process. The damage a power failure can do to data written but
// not yet synced depends on the file system; the store relies only on
// fsync's promise and on whole-record checksums.
//
// # Concurrency
//
// A Ledger, a Handler, a FileStore, a MemoryStore and a Verifier are safe
// for concurrent use. Ledger writes are applied under one lock and
// appended to the store in that order, then made durable outside the lock,
// so writers queue for memory, not for the disk. Reads, and the cached
// path of Authorize, take at most a read lock. Revocation subscribers are
// called synchronously by the revoking goroutine and must not block. A
// Ledger starts no goroutines: housekeeping runs in [Ledger.Run], on the
// caller's goroutine. If the store fails, the Ledger refuses further changes
// ([ErrStoreFailed]) until it is reopened, because what reached the disk is
// unknown.
package consent
