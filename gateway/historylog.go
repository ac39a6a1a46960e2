package gateway

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// The file of a durable History:
//
//	file   = magic record*
//	magic  = "HRTHHST1"
//	record = length (uint32, little endian) crc (uint32, little endian,
//	         CRC-32C of payload) payload (length bytes of JSON: historyRecord)
//
// Records are appended as values are recorded. The file is rewritten (to
// history.log.tmp, synced, renamed over history.log, directory synced) on
// opening, when values are erased or purged, and when too many trimmed
// values accumulate.

const (
	historyFileName  = "history.log"
	historyMagic     = "HRTHHST1"
	historyHeaderLen = 8
	// maxHistoryRecord bounds one record's payload; a longer length field
	// is taken for corruption.
	maxHistoryRecord = 16 << 20
)

// ErrHistoryFormat is wrapped by OpenHistory's error for a file that is
// not a history file (or is one of a format this version cannot read).
var ErrHistoryFormat = errors.New("gateway: not a history file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// historyRecord is one recorded value as the file holds it.
type historyRecord struct {
	Subject  string          `json:"s"`
	Grant    string          `json:"g,omitempty"`
	Purpose  string          `json:"p,omitempty"`
	Thing    string          `json:"t"`
	Property string          `json:"n"`
	Time     int64           `json:"at"`  // Unix nanoseconds
	Expires  int64           `json:"exp"` // Unix nanoseconds
	Value    json.RawMessage `json:"v"`
}

// appendHistoryRecord appends the framed encoding of r to b.
func appendHistoryRecord(b []byte, r *historyRecord) ([]byte, error) {
	payload, err := json.Marshal(r)
	if err != nil {
		return b, err
	}
	if len(payload) > maxHistoryRecord {
		return b, fmt.Errorf("history record of %d bytes exceeds %d", len(payload), maxHistoryRecord)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...), nil
}

// decodeHistoryLog calls fn for each record of a history file's contents,
// in order, and returns the length of the readable prefix: where the first
// incomplete, corrupt or unreadable record starts (len(data) when there is
// none). Empty data, or a prefix of the magic, is an empty file. It returns
// an error wrapping ErrHistoryFormat when data does not start with the
// magic.
func decodeHistoryLog(data []byte, fn func(historyRecord)) (int, error) {
	if len(data) < len(historyMagic) {
		if string(data) != historyMagic[:len(data)] {
			return 0, ErrHistoryFormat
		}
		return 0, nil // torn while being created
	}
	if string(data[:len(historyMagic)]) != historyMagic {
		return 0, ErrHistoryFormat
	}
	off := len(historyMagic)
	for off < len(data) {
		rest := data[off:]
		if len(rest) < historyHeaderLen {
			break
		}
		n := binary.LittleEndian.Uint32(rest)
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > maxHistoryRecord || uint64(n) > uint64(len(rest)-historyHeaderLen) {
			break
		}
		payload := rest[historyHeaderLen : historyHeaderLen+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		var r historyRecord
		if err := json.Unmarshal(payload, &r); err != nil || r.Subject == "" || r.Value == nil {
			break
		}
		fn(r)
		off += historyHeaderLen + int(n)
	}
	return off, nil
}

// appendLocked writes one value to the file. h.mu is held and h.f is open.
func (h *History) appendLocked(k seriesKey, purpose string, p point) error {
	var err error
	h.buf, err = appendHistoryRecord(h.buf[:0], &historyRecord{
		Subject: k.subject, Grant: k.grant, Purpose: purpose, Thing: k.thing, Property: k.property,
		Time: p.t.UnixNano(), Expires: p.exp.UnixNano(), Value: p.v,
	})
	if err != nil {
		return err
	}
	if _, err := h.f.Write(h.buf); err != nil {
		return err
	}
	h.dirty = true
	return nil
}

// rewriteLocked replaces the file with one holding the values held now,
// except those expired at now and those of the series skip selects. On
// failure the old file stays as it was. h.mu is held.
func (h *History) rewriteLocked(now time.Time, skip func(seriesKey) bool) (err error) {
	path := h.path()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("gateway: history: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("gateway: history: %w", err)
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteString(historyMagic)
	for k, s := range h.series {
		if skip != nil && skip(k) {
			continue
		}
		for _, p := range s.points {
			if !now.Before(p.exp) {
				continue
			}
			h.buf, err = appendHistoryRecord(h.buf[:0], &historyRecord{
				Subject: k.subject, Grant: k.grant, Purpose: s.purpose, Thing: k.thing, Property: k.property,
				Time: p.t.UnixNano(), Expires: p.exp.UnixNano(), Value: p.v,
			})
			if err != nil {
				return err
			}
			if _, err = w.Write(h.buf); err != nil {
				return err
			}
		}
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The new file is in place; from here on failures leave it there.
	if err := syncDir(h.dir); err != nil {
		h.log.Warn("gateway: history: directory not synced", "err", err)
	}
	if h.f != nil {
		h.f.Close() // the old, now unlinked file
		h.f = nil
	}
	h.dead, h.dirty = 0, false
	nf, oerr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if oerr != nil {
		// The rewrite itself succeeded. Values recorded from now on stay
		// in memory until the next Purge rewrites the file again.
		h.log.Warn("gateway: history: file not reopened for appending", "err", oerr)
		return nil
	}
	h.f = nf
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
