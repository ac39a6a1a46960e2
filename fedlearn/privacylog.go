package fedlearn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// PrivacyLogFile is the name of the append-only privacy-accounting log a
// Server with central differential privacy keeps in its CheckpointDir,
// next to CheckpointFile. It holds one record per noised aggregate,
// written and synced to disk before the aggregate can be released, so a
// restarted server counts every release, including those after its last
// checkpoint. Never delete it while the checkpoint is kept: the reported ε
// would then be too small.
const PrivacyLogFile = "fedlearn.privacy"

// A privacy-log record is 32 bytes, little-endian:
//
//	magic  "FLDP"
//	round  uint64, the round that was noised
//	q      float64 bits, the sampling rate
//	z      float64 bits, the noise multiplier
//	crc    uint32, CRC-32C of the 28 bytes before it
const (
	plMagic  = "FLDP"
	plRecord = 32
)

// maxPrivacyLogBytes bounds the privacy log that is read: 32 Mi records.
const maxPrivacyLogBytes = 1 << 30

// errPrivacyLog marks a failure to make a round's accounting durable; Run
// stops instead of releasing an aggregate it could not account for.
var errPrivacyLog = errors.New("fedlearn: cannot write the privacy log")

// privacyEntry is one noised aggregate.
type privacyEntry struct {
	round int
	q, z  float64
}

func (e privacyEntry) append(b []byte) []byte {
	start := len(b)
	b = append(b, plMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.round))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.q))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.z))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodePrivacyLog parses a privacy log. A damaged or incomplete last
// record is a write torn by a crash: it was never synced, so its aggregate
// was never released, and it is dropped; valid is the length of the intact
// prefix. Damage anywhere else is an error wrapping ErrCheckpoint, as the
// privacy spent can then no longer be known.
func decodePrivacyLog(b []byte) (entries []privacyEntry, valid int, err error) {
	for off := 0; off < len(b); off += plRecord {
		if len(b)-off < plRecord {
			return entries, off, nil // torn tail
		}
		r := b[off : off+plRecord]
		if string(r[:4]) != plMagic || crc32.Checksum(r[:28], castagnoli) != binary.LittleEndian.Uint32(r[28:]) {
			if off+plRecord == len(b) {
				return entries, off, nil // torn tail
			}
			return nil, 0, fmt.Errorf("%w: privacy log damaged at byte %d", ErrCheckpoint, off)
		}
		e := privacyEntry{
			round: int(binary.LittleEndian.Uint64(r[4:]) & math.MaxInt32),
			q:     math.Float64frombits(binary.LittleEndian.Uint64(r[12:])),
			z:     math.Float64frombits(binary.LittleEndian.Uint64(r[20:])),
		}
		if binary.LittleEndian.Uint64(r[4:]) > math.MaxInt32 || !(e.q > 0 && e.q <= 1) || !(e.z > 0) || math.IsInf(e.z, 1) {
			return nil, 0, fmt.Errorf("%w: privacy log record at byte %d out of range", ErrCheckpoint, off)
		}
		entries = append(entries, e)
	}
	return entries, len(b), nil
}

// loadPrivacyLog reads the privacy log in dir, truncating a torn last
// record so that the next append starts on a record boundary. A missing
// log is empty.
func loadPrivacyLog(dir string) ([]privacyEntry, error) {
	path := filepath.Join(dir, PrivacyLogFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPrivacyLogBytes+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(b) > maxPrivacyLogBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCheckpoint, path, maxPrivacyLogBytes)
	}
	entries, valid, err := decodePrivacyLog(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if valid < len(b) {
		if err := os.Truncate(path, int64(valid)); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// appendPrivacyLog appends entries to the privacy log in dir and syncs it
// (and, when the log is new, the folder) before returning.
func appendPrivacyLog(dir string, entries ...privacyEntry) error {
	var b []byte
	for _, e := range entries {
		b = e.append(b)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, PrivacyLogFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// restorePrivacy rebuilds the accountant when a server with a
// CheckpointDir starts: from the privacy log, plus any noised round in the
// checkpoint's history that the log lacks (a log deleted, or a checkpoint
// written before the log existed), which is then added to the log. It
// returns the number of logged releases the history does not show: rounds
// released after the last checkpoint, whose models are lost but whose
// privacy cost still counts.
func (s *Server) restorePrivacy() (lost int, err error) {
	dir := s.cfg.CheckpointDir
	if dir == "" {
		return 0, nil
	}
	entries, err := loadPrivacyLog(dir)
	if err != nil {
		return 0, err
	}
	logged := make(map[int]bool, len(entries))
	for _, e := range entries {
		logged[e.round] = true
	}
	var missing []privacyEntry
	noised := 0
	for _, r := range s.history {
		if r.NoiseMultiplier > 0 {
			noised++
			if !logged[r.Round] {
				missing = append(missing, privacyEntry{round: r.Round, q: r.SampleRate, z: r.NoiseMultiplier})
			}
		}
	}
	if len(missing) > 0 {
		if err := appendPrivacyLog(dir, missing...); err != nil {
			return 0, fmt.Errorf("%w: %w", errPrivacyLog, err)
		}
		entries = append(entries, missing...)
	}
	for _, e := range entries {
		if err := s.acct.Step(e.q, e.z); err != nil {
			return 0, fmt.Errorf("%w: replaying privacy accounting: %w", ErrCheckpoint, err)
		}
	}
	return len(entries) - noised, nil
}
