package consent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

func TestRunHousekeeping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		l := newTestLedger(t, func(c *Config) {
			c.KeyRotation = 24 * time.Hour
			c.PurgeInterval = time.Hour
			c.CompactEvery = 5
		})
		g := grantTo(t, l, "alice", lampRead)
		if err := l.Revoke(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		kid := l.currentKey().kid
		done := make(chan error)
		go func() { done <- l.Run(ctx) }()
		synctest.Wait()
		// The first round purged the revoked grant (comfort keeps nothing).
		if _, err := l.Get(g.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked grant not purged: %v", err)
		}
		time.Sleep(25 * time.Hour)
		synctest.Wait()
		if l.currentKey().kid == kid {
			t.Error("signing key not rotated after KeyRotation")
		}
		l.mu.RLock()
		records := l.records
		l.mu.RUnlock()
		if records >= 5 {
			t.Errorf("store not compacted: %d records", records)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
}

// failingStore fails every Sync after it is armed.
type failingStore struct {
	MemoryStore
	mu   sync.Mutex
	fail bool
}

func (s *failingStore) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk on fire")
	}
	return nil
}

func TestStoreFailureStopsChanges(t *testing.T) {
	ctx := t.Context()
	s := &failingStore{}
	l := newTestLedger(t, func(c *Config) { c.Store = s })
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	s.mu.Lock()
	s.fail = true
	s.mu.Unlock()
	if _, err := l.Grant(ctx, GrantRequest{Subject: "bob", Holder: "guest-app", Purpose: "comfort", Scopes: lampRead}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("Grant on a failing store: %v", err)
	}
	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	// What reached the disk is unknown: the ledger stays refusing.
	if err := l.Revoke(ctx, g.ID); !errors.Is(err, ErrStoreFailed) {
		t.Errorf("Revoke after a store failure: %v", err)
	}
	// Reads and authorization go on.
	if d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); err != nil || !d.Allow {
		t.Errorf("Authorize after a store failure: %v %v", d.Allow, err)
	}
}

// TestNoSecretsInLogs runs flows that log (refresh reuse, code reuse,
// failed logins) with debug logging on and checks that no token or client
// secret appears in the logs.
func TestNoSecretsInLogs(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServer(t, func(c *Config) { c.Logger = logger })
	var secrets []string
	cb := ts.approve("alice", authzQuery())
	resp, body := ts.exchange(cb.Get("code"), verifier)
	if resp.StatusCode != 200 {
		t.Fatal(body)
	}
	secrets = append(secrets, cb.Get("code"), body["access_token"].(string), body["refresh_token"].(string), verifier)
	ts.exchange(cb.Get("code"), verifier) // code reuse: logged
	rt := body["refresh_token"].(string)
	r2 := ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"guest-app"}})
	var b2 map[string]any
	decodeJSON(t, r2, &b2)
	if s, ok := b2["access_token"].(string); ok {
		secrets = append(secrets, s, b2["refresh_token"].(string))
	}
	ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"guest-app"}}) // reuse: logged
	ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"energy-svc"}, "client_secret": {"wrong-secret"}})
	secrets = append(secrets, "s3cret-energy", "s3cret-gateway", "wrong-secret")
	ts.l.logger.Info("tokens", "tokens", &Tokens{AccessToken: Secret(secrets[1]), RefreshToken: Secret(secrets[2])}, "secret", Secret(secrets[1]))
	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	if !strings.Contains(out, "reused") {
		t.Fatalf("the flows logged nothing to check: %s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("a secret appears in the logs: %.12s…", s)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
