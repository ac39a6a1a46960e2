// Package onboardingtest provides what tests and examples of onboarding
// need around a Session: an in-memory Registrar (Directory) and a
// conformance test for Registrar implementations (TestRegistrar), which a
// gateway adapter should pass.
package onboardingtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/thing"
)

// Directory is an in-memory Registrar: the registered things by ID. It
// implements onboarding.Registrar and onboarding.Unregisterer and is safe
// for concurrent use. The zero value is ready to use.
type Directory struct {
	mu     sync.Mutex
	things map[string]*onboarding.Registration
	// Err, if set, is returned by Register instead of registering.
	Err error
}

// Register implements onboarding.Registrar.
func (d *Directory) Register(ctx context.Context, r *onboarding.Registration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r == nil || r.ID == "" {
		return errors.New("onboardingtest: registration without an id")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Err != nil {
		return d.Err
	}
	if d.things == nil {
		d.things = make(map[string]*onboarding.Registration)
	}
	d.things[r.ID] = r
	return nil
}

// Unregister implements onboarding.Unregisterer.
func (d *Directory) Unregister(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.things, id)
	return nil
}

// Lookup returns the registration with id.
func (d *Directory) Lookup(id string) (*onboarding.Registration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.things[id]
	return r, ok
}

// Things returns the registered Thing Descriptions, sorted by id.
func (d *Directory) Things() []*thing.Description {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.things))
	for id := range d.things {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*thing.Description, len(ids))
	for i, id := range ids {
		out[i] = d.things[id].Description
	}
	return out
}

// TestRegistrar checks that a Registrar behaves as onboarding expects:
// Register accepts a valid registration, registering the same ID again
// replaces it rather than failing, concurrent calls are safe, and, if the
// Registrar is an Unregisterer, Unregister removes a thing and is a no-op
// for an unknown ID. list returns the IDs currently registered, so the
// test can observe the effect. It registers things with ids
// "urn:onboardingtest:..." and unregisters them at the end when it can.
func TestRegistrar(t *testing.T, r onboarding.Registrar, list func() []string) {
	t.Helper()
	ctx := t.Context()
	mk := func(id, title string) *onboarding.Registration {
		td, err := thing.New(id, title).Build()
		if err != nil {
			t.Fatalf("building a test TD: %v", err)
		}
		return &onboarding.Registration{ID: id, Description: td}
	}
	has := func(id string) bool { return slices.Contains(list(), id) }

	const a = "urn:onboardingtest:a"
	if err := r.Register(ctx, mk(a, "first")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if !has(a) {
		t.Fatalf("after Register, %s is not listed", a)
	}
	if err := r.Register(ctx, mk(a, "again")); err != nil {
		t.Fatalf("Register of an ID already registered must replace it, got %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- r.Register(ctx, mk("urn:onboardingtest:c"+string(rune('0'+i)), "concurrent"))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Register: %v", err)
		}
	}

	u, ok := r.(onboarding.Unregisterer)
	if !ok {
		return
	}
	if err := u.Unregister(ctx, a); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if has(a) {
		t.Fatalf("after Unregister, %s is still listed", a)
	}
	if err := u.Unregister(ctx, "urn:onboardingtest:unknown"); err != nil {
		t.Fatalf("Unregister of an unknown ID must succeed, got %v", err)
	}
	for i := range 8 {
		u.Unregister(ctx, "urn:onboardingtest:c"+string(rune('0'+i)))
	}
}
