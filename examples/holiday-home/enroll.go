package main

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// Enrollment: a home joins the resort with the resort's enrollment secret
// (its provisioning credential, printed by -cloud-only) and proves that it
// holds its gateway's Ed25519 key by signing a fresh challenge. The first
// enrollment of a name binds it to that key (trust on first use): from then
// on only the holder of that key may enroll under the name again (a
// restart, or a new token), and a home with another key is refused,
// without touching the enrolled home's link. The secret alone does not let
// anyone take over a home's name, its guests' requests or its cookies.
//
//	home  -> cloud  POST /api/enroll/challenge            (Bearer secret)
//	cloud -> home   {"nonce": <32 random bytes>}          (single use, 1 minute)
//	home  -> cloud  POST /api/enroll {home, key, local_url, nonce, sig}
//	cloud -> home   {token, urls, apps}  or 409 if the name is bound to another key
//
// sig is Ed25519 over enrollTranscript: a context string, then the home's
// name, its public key, its local URL and the nonce, each with a 2-byte
// big-endian length.

// enrollContext starts every signed enrollment transcript.
const enrollContext = "hearth holiday-home enrollment v1\x00"

// Enrollment limits.
const (
	challengeTTL  = time.Minute
	maxChallenges = 256 // outstanding at once
)

// errNameTaken means a home name is bound to another gateway key.
var errNameTaken = errors.New("the home name is enrolled with another gateway key")

// enrollRequest is what a home sends to join the resort.
type enrollRequest struct {
	Home     string `json:"home"`
	Key      []byte `json:"key"`       // the gateway's Ed25519 public key
	LocalURL string `json:"local_url"` // the gateway on the home network
	Nonce    []byte `json:"nonce"`     // from /api/enroll/challenge
	Sig      []byte `json:"sig"`       // Ed25519 over enrollTranscript, with Key
}

// enrollTranscript is what a home signs to enroll.
func enrollTranscript(home string, key ed25519.PublicKey, localURL string, nonce []byte) []byte {
	b := []byte(enrollContext)
	for _, f := range [][]byte{[]byte(home), key, []byte(localURL), nonce} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// challenges are the enrollment nonces handed out and not yet used. It is
// safe for concurrent use.
type challenges struct {
	mu sync.Mutex
	m  map[string]time.Time // hex SHA-256 of the nonce → expiry
}

// issue returns a new nonce, or false if too many are outstanding.
func (cs *challenges) issue() ([]byte, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := time.Now()
	for k, exp := range cs.m {
		if now.After(exp) {
			delete(cs.m, k)
		}
	}
	if len(cs.m) >= maxChallenges {
		return nil, false
	}
	if cs.m == nil {
		cs.m = map[string]time.Time{}
	}
	nonce := []byte(newSecret(32))
	cs.m[hashSecret(string(nonce))] = now.Add(challengeTTL)
	return nonce, true
}

// redeem uses up a nonce; it reports whether it was issued and unexpired.
func (cs *challenges) redeem(nonce []byte) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k := hashSecret(string(nonce))
	exp, ok := cs.m[k]
	delete(cs.m, k)
	return ok && time.Now().Before(exp)
}

// enrollAuth checks the enrollment secret of r.
func (c *cloud) enrollAuth(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !equalSecret(tok, c.enrollSecret) {
		problem(w, http.StatusUnauthorized, "the enrollment secret is missing or wrong")
		return false
	}
	return true
}

// serveEnrollChallenge hands a home a nonce to sign.
func (c *cloud) serveEnrollChallenge(w http.ResponseWriter, r *http.Request) {
	if !c.enrollAuth(w, r) {
		return
	}
	nonce, ok := c.challenges.issue()
	if !ok {
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusServiceUnavailable, "too many enrollments under way; try again")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"nonce": nonce})
}

// serveEnroll admits a home to the resort: it binds (or finds bound) the
// home's name to the gateway's public key, which the relay then admits,
// and gives the home a new token.
func (c *cloud) serveEnroll(w http.ResponseWriter, r *http.Request) {
	if !c.enrollAuth(w, r) {
		return
	}
	var req enrollRequest
	if !readJSON(w, r, &req) {
		return
	}
	u, err := url.Parse(req.LocalURL)
	switch {
	case !relay.ValidHome(req.Home):
		problem(w, http.StatusBadRequest, "home: a name of a-z, 0-9 and '-' is required")
		return
	case slices.Contains(reservedHomes, req.Home):
		problem(w, http.StatusBadRequest, "home: that name is one of the resort's own apps")
		return
	case len(req.Key) != ed25519.PublicKeySize:
		problem(w, http.StatusBadRequest, "key: an Ed25519 public key is required")
		return
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problem(w, http.StatusBadRequest, "local_url: an http(s) URL is required")
		return
	case !c.challenges.redeem(req.Nonce):
		problem(w, http.StatusBadRequest, "nonce: unknown, used or expired; ask /api/enroll/challenge for a new one")
		return
	case !ed25519.Verify(req.Key, enrollTranscript(req.Home, req.Key, req.LocalURL, req.Nonce), req.Sig):
		problem(w, http.StatusUnauthorized, "sig: not a signature of the enrollment with key")
		return
	}
	token := newSecret(32)
	err = c.reg.enroll(req.Home, &homeRecord{Key: ed25519.PublicKey(req.Key), TokenHash: hashSecret(token), LocalURL: req.LocalURL})
	switch {
	case errors.Is(err, errNameTaken):
		// The enrolled home keeps its name, its link and its token.
		c.log.Warn("enrollment refused: the home name is bound to another gateway key", "home", req.Home)
		problem(w, http.StatusConflict, req.Home+" is enrolled with another gateway key; if that gateway is gone for good, remove "+req.Home+" from the resort's homes.json")
		return
	case err != nil:
		c.log.Error("enroll", "err", err)
		problem(w, http.StatusServiceUnavailable, "could not record the home")
		return
	}
	c.mu.Lock()
	delete(c.maint, req.Home)
	c.mu.Unlock()
	c.log.Info("home enrolled", "home", req.Home)
	writeJSON(w, http.StatusOK, enrollResponse{
		Token: token, CloudURL: c.secureURL, FLURL: c.secureURL + "/fl",
		RemoteURL: c.homeURL(req.Home), RemoteHTTPS: "https://" + net.JoinHostPort(c.homeHost(req.Home), port(c.httpsLn)) + "/",
		Apps: []appInfo{c.es.info()},
	})
}

// enrollHome enrolls a home with the cloud over HTTPS, signing the cloud's
// challenge with the gateway's key.
func enrollHome(ctx context.Context, hc *http.Client, cloudURL, secret, home, localURL string, key ed25519.PrivateKey) (*enrollResponse, error) {
	base := strings.TrimSuffix(cloudURL, "/")
	var ch struct {
		Nonce []byte `json:"nonce"`
	}
	if err := postJSON(ctx, hc, base+"/api/enroll/challenge", secret, struct{}{}, &ch); err != nil {
		return nil, fmt.Errorf("enrolling with the resort at %s: %w", cloudURL, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	req := enrollRequest{Home: home, Key: pub, LocalURL: localURL, Nonce: ch.Nonce}
	req.Sig = ed25519.Sign(key, enrollTranscript(home, pub, localURL, ch.Nonce))
	var res enrollResponse
	if err := postJSON(ctx, hc, base+"/api/enroll", secret, req, &res); err != nil {
		return nil, fmt.Errorf("enrolling with the resort at %s: %w", cloudURL, err)
	}
	return &res, nil
}
