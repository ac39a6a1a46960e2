package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/hearth-wot/hearth/fedlearn"
	"github.com/hearth-wot/hearth/gateway/relay"
)

// homeRecord is what the resort knows about an enrolled home.
type homeRecord struct {
	// Key is the gateway's Ed25519 public key: the relay admits the home
	// with it (no shared password crosses the network).
	Key ed25519.PublicKey `json:"key"`
	// TokenHash is the SHA-256 of the home's bearer token, which the home
	// presents to the federated-learning endpoint and the cloud's API.
	TokenHash string `json:"token_hash"`
	// LocalURL is the gateway's address on the home's own network.
	LocalURL string `json:"local_url"`
	// Maintenance is the refresh token of the resort's maintenance grant
	// at the home, which the home hands over at enrollment.
	Maintenance string `json:"maintenance,omitempty"`
}

// registry is the resort's list of enrolled homes, kept in a JSON file so
// that a restarted cloud still knows them. It is the relay's Registry and
// the federated-learning server's Authenticator. It is safe for concurrent
// use.
type registry struct {
	path  string
	mu    sync.Mutex
	homes map[string]*homeRecord
}

func openRegistry(path string) (*registry, error) {
	r := &registry{path: path, homes: map[string]*homeRecord{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &r.homes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func (r *registry) saveLocked() error {
	b, err := json.MarshalIndent(r.homes, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path, b, 0o600)
}

// enroll records a home. The first enrollment of a name binds it to
// rec.Key; a later one must carry the same key (errNameTaken otherwise)
// and replaces the token and the local URL.
func (r *registry) enroll(home string, rec *homeRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.homes[home]; old != nil && !old.Key.Equal(rec.Key) {
		return errNameTaken
	}
	r.homes[home] = rec
	return r.saveLocked()
}

// setMaintenance stores the maintenance refresh token of a home.
func (r *registry) setMaintenance(home, refresh string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.homes[home]
	if h == nil {
		return relay.ErrUnknownHome
	}
	h.Maintenance = refresh
	return r.saveLocked()
}

func (r *registry) get(home string) (homeRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.homes[home]
	if h == nil {
		return homeRecord{}, false
	}
	return *h, true
}

func (r *registry) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []string
	for k := range r.homes {
		n = append(n, k)
	}
	slices.SortFunc(n, compareHomeNames)
	return n
}

// HomeKeys implements relay.Registry.
func (r *registry) HomeKeys(_ context.Context, home string) ([]ed25519.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.homes[home]
	if h == nil {
		return nil, fmt.Errorf("%w: %s", relay.ErrUnknownHome, home)
	}
	return []ed25519.PublicKey{h.Key}, nil
}

// homeOfToken returns the home whose bearer token this is.
func (r *registry) homeOfToken(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	want := hashSecret(token)
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, h := range r.homes {
		if equalSecret(h.TokenHash, want) {
			return name, true
		}
	}
	return "", false
}

// Authenticate implements fedlearn.Authenticator: a home's federated
// learning client is known by its home name, taken from its token.
func (r *registry) Authenticate(_ context.Context, token fedlearn.Token) (string, error) {
	if home, ok := r.homeOfToken(string(token)); ok {
		return home, nil
	}
	return "", fedlearn.ErrUnauthorized
}

// compareHomeNames orders "home-2" before "home-10".
func compareHomeNames(a, b string) int {
	var na, nb int
	_, ea := fmt.Sscanf(a, "home-%d", &na)
	_, eb := fmt.Sscanf(b, "home-%d", &nb)
	if ea == nil && eb == nil && na != nb {
		return na - nb
	}
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}
