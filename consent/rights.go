package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// RegisterExporter adds a source of subject data for Export under name
// (the key of its data in the export). It panics if name is empty or
// already registered, like http.ServeMux.Handle: that is a wiring mistake.
func (l *Ledger) RegisterExporter(name string, e Exporter) {
	l.rightsMu.Lock()
	defer l.rightsMu.Unlock()
	if name == "" || e == nil || l.exporters[name] != nil {
		panic(fmt.Sprintf("consent: RegisterExporter(%q): empty, nil or duplicate", name))
	}
	l.exporters[name] = e
}

// RegisterEraser adds a place Erase erases a subject's data. It panics if
// name is empty or already registered.
func (l *Ledger) RegisterEraser(name string, e Eraser) {
	l.rightsMu.Lock()
	defer l.rightsMu.Unlock()
	if name == "" || e == nil || l.erasers[name] != nil {
		panic(fmt.Sprintf("consent: RegisterEraser(%q): empty, nil or duplicate", name))
	}
	l.erasers[name] = e
}

// HistoryConsents implements access.HistoryPolicy: the standing consents
// that allow recording the history of a property. A consent counts when its
// grant is active, its purpose permits history, and its scope covers
// reading or observing the property.
func (l *Ledger) HistoryConsents(ctx context.Context, thingID, property string) ([]access.HistoryConsent, error) {
	if l.closedF.Load() {
		return nil, ErrClosed
	}
	now := time.Now()
	read := access.Request{ThingID: thingID, Op: thing.OpReadProperty, Name: property}
	observe := access.Request{ThingID: thingID, Op: thing.OpObserveProperty, Name: property}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []access.HistoryConsent
	add := func(m map[string]*grantState) {
		for _, gs := range m {
			if !gs.purpose.History || gs.status(now) != StatusActive {
				continue
			}
			if !gs.scope.Permits(read) && !gs.scope.Permits(observe) {
				continue
			}
			if slices.ContainsFunc(out, func(h access.HistoryConsent) bool { return h.GrantID == gs.g.ID }) {
				continue
			}
			out = append(out, access.HistoryConsent{Subject: gs.g.Subject, GrantID: gs.g.ID, Purpose: gs.g.Purpose, Retention: gs.purpose.Retention})
		}
	}
	add(l.byThing[thingID])
	add(l.byThing[AllThings])
	slices.SortFunc(out, func(a, b access.HistoryConsent) int { return strings.Compare(a.GrantID, b.GrantID) })
	return out, nil
}

// Export is the machine-readable copy of everything the ledger, and the
// registered exporters, hold about a data subject (GDPR Art. 15 and 20).
//
// An Export is plain data whose copies share their slices and map; it is
// safe for concurrent reads but not for a write concurrent with other use.
type Export struct {
	Subject    string                     `json:"subject"`             // whose data this is
	Pseudonym  string                     `json:"pseudonym,omitempty"` // their name in the audit log
	Exported   time.Time                  `json:"exported"`            // when
	Controller Controller                 `json:"controller"`          // who is responsible
	Purposes   []Purpose                  `json:"purposes"`            // the purposes of their grants
	Grants     []Grant                    `json:"grants"`              // every grant the ledger holds
	Audit      []ExportedAuditEntry       `json:"audit"`               // the audit entries about them
	Data       map[string]json.RawMessage `json:"data"`                // each Exporter's data, by name
}

// ExportedAuditEntry is an audit log entry with its position in the log.
//
// An ExportedAuditEntry is a plain value: copies are independent, and it is
// safe for concurrent reads but not for a write concurrent with other use.
type ExportedAuditEntry struct {
	Index int64      `json:"index"` // position in the log
	Entry AuditEntry `json:"entry"` // the entry
}

// Export gathers a data subject's grants, the audit entries under their
// pseudonym, the purposes they concern and the data of every registered
// Exporter, as JSON. The export itself is audited, under the subject's
// pseudonym, or under no subject when the ledger holds nothing about them
// (Export never stores the id of a subject it does not know). An
// Exporter's failure fails the export (an incomplete copy would mislead).
func (l *Ledger) Export(ctx context.Context, subject string) (json.RawMessage, error) {
	if subject == "" {
		return nil, fmt.Errorf("%w: empty subject", ErrInvalidRequest)
	}
	now := time.Now()
	ex := Export{Subject: subject, Exported: now.UTC(), Controller: l.controller, Data: map[string]json.RawMessage{}}
	l.mu.RLock()
	if salt := l.subjects[subject]; salt != nil {
		ex.Pseudonym = pseudonym(salt, subject)
		for _, i := range l.audit.bySubject[ex.Pseudonym] {
			e, err := ParseAuditEntry(l.audit.entries[i])
			if err != nil {
				l.mu.RUnlock()
				return nil, err
			}
			ex.Audit = append(ex.Audit, ExportedAuditEntry{Index: i, Entry: *e})
		}
	}
	purposes := map[string]Purpose{}
	for _, gs := range l.bySubject[subject] {
		ex.Grants = append(ex.Grants, gs.snapshot(now))
		purposes[gs.g.Purpose] = *gs.purpose
	}
	l.mu.RUnlock()
	slices.SortFunc(ex.Grants, func(a, b Grant) int { return a.Created.Compare(b.Created) })
	for _, id := range slices.Sorted(maps.Keys(purposes)) {
		ex.Purposes = append(ex.Purposes, purposes[id])
	}

	l.rightsMu.Lock()
	exporters := maps.Clone(l.exporters)
	l.rightsMu.Unlock()
	var errs []error
	for name, e := range exporters {
		data, err := e.ExportSubject(ctx, subject)
		if err != nil {
			errs = append(errs, fmt.Errorf("consent: export from %s: %w", name, err))
			continue
		}
		if data == nil {
			data = json.RawMessage("null")
		}
		if !json.Valid(data) {
			errs = append(errs, fmt.Errorf("consent: export from %s: invalid JSON", name))
			continue
		}
		ex.Data[name] = data
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out, err := json.Marshal(ex)
	if err != nil {
		return nil, err
	}

	l.mu.Lock()
	// The export is audited under the subject's pseudonym if they have
	// one. A subject the ledger does not know (never granted anything, or
	// erased, or purged) gets no salt: that would store their id only to
	// record that there was nothing about them.
	var pseudo string
	if salt := l.subjects[subject]; salt != nil {
		pseudo = pseudonym(salt, subject)
	}
	ops := []txOp{auditOp(AuditEntry{Time: now, Event: EventExport, Subject: pseudo, Count: len(ex.Grants)})}
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err == nil {
		err = l.sync(ctx, size)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Erase carries out a data subject's right to erasure (GDPR Art. 17). It
// revokes all their grants (effective at once), asks every registered
// Eraser to erase their data, then deletes their grants and token families
// and destroys the salt of their pseudonym, so the audit log's entries
// about them can no longer be linked to them; finally it compacts the store
// so the erased records leave the disk. If an Eraser fails, Erase stops
// before deleting anything from the ledger and returns the error; calling
// it again retries.
//
// If the Store is not a Compactor, Erase does all of the above except the
// compaction and then returns an error wrapping ErrNotErasable: the ledger
// has forgotten the subject, but their records remain in the store, and
// retrying cannot change that. A ledger that must honour erasure needs a
// Store that compacts (MemoryStore and FileStore do).
func (l *Ledger) Erase(ctx context.Context, subject string) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidRequest)
	}
	if _, err := l.RevokeAll(ctx, GrantFilter{Subject: subject}); err != nil {
		return err
	}
	l.rightsMu.Lock()
	erasers := maps.Clone(l.erasers)
	l.rightsMu.Unlock()
	var errs []error
	for name, e := range erasers {
		if err := e.EraseSubject(ctx, subject); err != nil {
			errs = append(errs, fmt.Errorf("consent: erase at %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	now := time.Now()
	l.mu.Lock()
	var ops []txOp
	var pseudo string
	if salt := l.subjects[subject]; salt != nil {
		pseudo = pseudonym(salt, subject)
	}
	grants := slices.Collect(maps.Values(l.bySubject[subject]))
	for _, gs := range grants {
		ops = append(ops, txOp{Kind: opDelete, ID: gs.g.ID})
	}
	ops = append(ops, auditOp(AuditEntry{Time: now, Event: EventErase, Subject: pseudo, Count: len(grants)}))
	if pseudo != "" {
		ops = append(ops, txOp{Kind: opForget, ID: subject})
	}
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	for _, gs := range grants {
		l.notify(gs.g.ID)
	}
	if err := l.sync(ctx, size); err != nil {
		return err
	}
	return l.dropDeleted(ctx)
}

// dropDeleted compacts the store so that the records of what the ledger
// deleted leave it. A store that cannot compact keeps them: that is
// ErrNotErasable.
func (l *Ledger) dropDeleted(ctx context.Context) error {
	if _, ok := l.store.(Compactor); !ok {
		return fmt.Errorf("%w: %T is not a consent.Compactor; the deleted records remain in it", ErrNotErasable, l.store)
	}
	return l.Compact(ctx)
}

// Purge deletes grants that ended (expired or revoked) longer ago than
// their purpose's retention (GDPR Art. 5(1)(e)), each with a "purge" audit
// entry, and returns how many it deleted. Run calls it periodically.
//
// A data subject left with no grants is forgotten too: the salt of their
// pseudonym, the only stored record that names them, is destroyed, so the
// audit entries about them can no longer be linked to them (an Export
// finds none) and a later grant to them gets a new, unrelated pseudonym.
// That is the point of storage limitation: nothing the ledger keeps points
// back to a person whose consents have all ended. When Purge deleted
// anything it then compacts the store, as Erase does, so that the purged
// records leave the disk at once rather than at the next scheduled
// compaction. If the Store is not a Compactor, a Purge that deleted
// something returns the count with an error wrapping ErrNotErasable, as
// Erase does.
func (l *Ledger) Purge(ctx context.Context) (int, error) {
	now := time.Now()
	l.mu.Lock()
	var ops []txOp
	var ids []string
	left := map[string]int{} // subject -> grants not purged
	for _, gs := range l.grants {
		end := fromUnixNano(gs.expires)
		if gs.revoked.Load() && gs.revokedAt.Before(end) {
			end = gs.revokedAt
		}
		if gs.status(now) == StatusActive || now.Before(end.Add(gs.purpose.Retention)) {
			continue
		}
		if _, ok := left[gs.g.Subject]; !ok {
			left[gs.g.Subject] = len(l.bySubject[gs.g.Subject])
		}
		left[gs.g.Subject]--
		ops = l.deleteOpsLocked(gs, now, EventPurge, ops)
		ids = append(ids, gs.g.ID)
	}
	if len(ops) == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	for _, subject := range slices.Sorted(maps.Keys(left)) {
		if left[subject] == 0 {
			ops = append(ops, txOp{Kind: opForget, ID: subject})
		}
	}
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	l.notify(ids...)
	if err := l.sync(ctx, size); err != nil {
		return len(ids), err
	}
	return len(ids), l.dropDeleted(ctx)
}
