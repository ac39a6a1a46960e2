package gatewaytest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// TestAdapter checks that a implements the gateway.Adapter contract, for
// adapter authors (like testing/fstest.TestFS): every thing has a unique id
// and usable schemas; every readable property reads, as a value that
// encodes to JSON its schema accepts; unknown things and properties fail
// with an error wrapping gateway.ErrNotFound; a PropertyWriter accepts each
// writable property's current value written back (so the test changes no
// device state); an EventSource's Subscribe returns once its context ends.
// The adapter must be safe for concurrent use, so the reads run
// concurrently.
func TestAdapter(t *testing.T, a gateway.Adapter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tds, err := a.Things(ctx)
	if err != nil {
		t.Fatalf("Things: %v", err)
	}
	seen := make(map[string]bool)
	for _, td := range tds {
		if td == nil {
			t.Fatal("Things returned a nil description")
		}
		if td.ID == "" {
			t.Errorf("thing %q has no id", td.Title)
			continue
		}
		if seen[td.ID] {
			t.Errorf("thing id %q appears twice", td.ID)
		}
		seen[td.ID] = true
	}

	t.Run("unknown", func(t *testing.T) {
		if _, err := a.ReadProperty(ctx, "urn:gatewaytest:no-such-thing", "x"); !errors.Is(err, gateway.ErrNotFound) {
			t.Errorf("ReadProperty of an unknown thing = %v, want ErrNotFound", err)
		}
		for _, td := range tds {
			if _, err := a.ReadProperty(ctx, td.ID, "gatewaytest-no-such-property"); !errors.Is(err, gateway.ErrNotFound) {
				t.Errorf("%s: ReadProperty of an unknown property = %v, want ErrNotFound", td.ID, err)
			}
		}
	})

	t.Run("things", func(t *testing.T) {
		for _, td := range tds {
			t.Run(td.ID, func(t *testing.T) {
				t.Parallel()
				for name, p := range td.Properties {
					sc, err := thing.Compile(&p.DataSchema)
					if err != nil {
						t.Errorf("property %q: schema: %v", name, err)
						continue
					}
					if p.WriteOnly {
						continue
					}
					v, err := a.ReadProperty(ctx, td.ID, name)
					if err != nil {
						t.Errorf("ReadProperty(%q): %v", name, err)
						continue
					}
					raw, err := json.Marshal(v)
					if err != nil {
						t.Errorf("ReadProperty(%q) = %#v, which does not encode: %v", name, v, err)
						continue
					}
					if err := sc.ValidateJSON(raw); err != nil {
						t.Errorf("ReadProperty(%q) = %s, which its schema rejects: %v", name, raw, err)
						continue
					}
					w, ok := a.(gateway.PropertyWriter)
					if !ok || p.ReadOnly {
						continue
					}
					var back any
					json.Unmarshal(raw, &back) // as the gateway passes values
					if err := w.WriteProperty(ctx, td.ID, name, back); err != nil {
						t.Errorf("WriteProperty(%q, %s) of its current value: %v", name, raw, err)
					}
				}
				for name, ac := range td.Actions {
					if _, err := thing.Compile(ac.Input); err != nil {
						t.Errorf("action %q: input schema: %v", name, err)
					}
				}
			})
		}
	})

	if src, ok := a.(gateway.EventSource); ok {
		t.Run("subscribe", func(t *testing.T) {
			sctx, scancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- src.Subscribe(sctx, discardSink{}) }()
			time.Sleep(10 * time.Millisecond)
			scancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Subscribe did not return 5s after its context ended")
			}
		})
	}
}

type discardSink struct{}

func (discardSink) PropertyChanged(string, string, any) {}
func (discardSink) Event(string, string, any)           {}
func (discardSink) ThingAdded(*thing.Description)       {}
func (discardSink) ThingRemoved(string)                 {}
