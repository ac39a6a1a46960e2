package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
)

// Registry tells the relay which public keys may serve a home. It is the
// only thing a relay needs to know about a home before the home dials in:
// there are no shared passwords.
//
// HomeKeys must be safe for concurrent use; the Server calls it once per
// gateway handshake. It returns an error wrapping ErrUnknownHome when no key
// is registered for home; any other error refuses the gateway for now (it
// retries).
type Registry interface {
	HomeKeys(ctx context.Context, home string) ([]ed25519.PublicKey, error)
}

// MemRegistry is an in-memory Registry. Its zero value is an empty registry
// ready to use. It is safe for concurrent use.
//
// Removing a key does not disconnect a gateway that already authenticated
// with it; call Server.Disconnect for that.
type MemRegistry struct {
	mu    sync.RWMutex
	homes map[string][]ed25519.PublicKey
}

// Register allows key to serve home, in addition to any key already
// registered for it (so a gateway can rotate its key without downtime).
// It returns an error wrapping ErrInvalidHome for a malformed home name and
// ErrInvalidKey for a key that is not an Ed25519 public key.
func (m *MemRegistry) Register(home string, key ed25519.PublicKey) error {
	if !ValidHome(home) {
		return fmt.Errorf("%w: %q", ErrInvalidHome, home)
	}
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), ed25519.PublicKeySize)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.homes == nil {
		m.homes = make(map[string][]ed25519.PublicKey)
	}
	for _, k := range m.homes[home] {
		if k.Equal(key) {
			return nil
		}
	}
	m.homes[home] = append(m.homes[home], slices.Clone(key))
	return nil
}

// Revoke removes one key of home. It reports whether the key was registered.
func (m *MemRegistry) Revoke(home string, key ed25519.PublicKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := m.homes[home]
	i := slices.IndexFunc(keys, func(k ed25519.PublicKey) bool { return k.Equal(key) })
	if i < 0 {
		return false
	}
	keys = slices.Delete(slices.Clone(keys), i, i+1)
	if len(keys) == 0 {
		delete(m.homes, home)
	} else {
		m.homes[home] = keys
	}
	return true
}

// Unregister removes every key of home.
func (m *MemRegistry) Unregister(home string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.homes, home)
}

// HomeKeys implements Registry.
func (m *MemRegistry) HomeKeys(_ context.Context, home string) ([]ed25519.PublicKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := m.homes[home]
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownHome, home)
	}
	return slices.Clone(keys), nil
}

// ValidHome reports whether name is a valid home name: 1 to 63 characters
// from a-z, 0-9 and '-', neither starting nor ending with '-'. Home names
// are DNS labels so that every home can also have its own host name under
// Config.HomeDomain.
func ValidHome(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
