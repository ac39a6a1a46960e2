package simradio

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
)

// AccessPoint is a simulated Wi-Fi network. It is plain data, safe for
// concurrent use; NewStation copies it.
type AccessPoint struct {
	SSID       string
	Passphrase string
}

// Station is a device's simulated Wi-Fi interface. It implements
// onboarding.WiFi: Join checks the credentials against its access points
// after JoinTime, and the staged network becomes the device's network only
// on Commit. It is safe for concurrent use.
type Station struct {
	// JoinTime is how long a join takes (association and DHCP).
	JoinTime time.Duration

	aps []AccessPoint

	mu        sync.Mutex
	staged    string
	committed string
	joins     int
	rollbacks int
}

// NewStation returns a station that can see aps.
func NewStation(aps ...AccessPoint) *Station {
	return &Station{aps: aps}
}

// Join implements onboarding.WiFi.
func (s *Station) Join(ctx context.Context, c onboarding.WiFiCredentials) error {
	if err := sleep(ctx, s.JoinTime); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joins++
	for _, ap := range s.aps {
		if ap.SSID != c.SSID {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(ap.Passphrase), []byte(c.Passphrase.Reveal())) != 1 {
			return &onboarding.JoinError{Reason: onboarding.JoinReasonWrongPassphrase, AttemptsLeft: -1}
		}
		s.staged = c.SSID
		return nil
	}
	return &onboarding.JoinError{Reason: onboarding.JoinReasonNotFound, AttemptsLeft: -1}
}

// Commit implements onboarding.WiFi.
func (s *Station) Commit(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged != "" {
		s.committed, s.staged = s.staged, ""
	}
	return nil
}

// Rollback implements onboarding.WiFi.
func (s *Station) Rollback(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staged = ""
	s.rollbacks++
	return nil
}

// Forget implements onboarding.WiFi.
func (s *Station) Forget(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staged, s.committed = "", ""
	return nil
}

// Network returns the SSID the station committed to, or "".
func (s *Station) Network() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// Staged returns the SSID joined but not committed, or "".
func (s *Station) Staged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staged
}

// Joins counts Join calls that reached an access point check.
func (s *Station) Joins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joins
}

// Rollbacks counts Rollback calls.
func (s *Station) Rollbacks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rollbacks
}
