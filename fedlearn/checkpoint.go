package fedlearn

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// CheckpointFile is the name of the checkpoint a Server keeps in its
// CheckpointDir.
const CheckpointFile = "fedlearn.ckpt"

// maxCheckpointBytes bounds the size of a checkpoint file that is read.
const maxCheckpointBytes = 1<<30 - 1 // fits an int on 32-bit boards too

// Checkpoint layout (all integers little-endian or uvarint):
//
//	magic     "FLCK" then version byte 1
//	meta      uvarint length, JSON {"round", "strategy", "history"}
//	params    uvarint length, a wire tensor frame (float64, lossless)
//	state     uvarint length, the strategy's MarshalBinary output (may be empty)
//	crc       4 bytes CRC-32C of everything before it
const (
	ckMagic   = "FLCK"
	ckVersion = 1
)

var errNoCheckpoint = errors.New("fedlearn: no checkpoint")

type checkpoint struct {
	round    int
	params   []float64
	history  []RoundRecord
	strategy string
	state    []byte
}

type checkpointMeta struct {
	Round    int           `json:"round"`
	Strategy string        `json:"strategy"`
	History  []RoundRecord `json:"history"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode serialises the checkpoint, taking the strategy's state from s.
func (c *checkpoint) encode(s Strategy) ([]byte, error) {
	meta, err := json.Marshal(checkpointMeta{Round: c.round, Strategy: fmt.Sprintf("%T", s), History: c.history})
	if err != nil {
		return nil, err
	}
	var state []byte
	if m, ok := s.(encoding.BinaryMarshaler); ok {
		if state, err = m.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("strategy state: %w", err)
		}
	}
	params, err := wire.AppendTensor(nil, c.params, wire.Float64)
	if err != nil {
		return nil, err
	}
	b := append([]byte(ckMagic), ckVersion)
	for _, sec := range [][]byte{meta, params, state} {
		b = binary.AppendUvarint(b, uint64(len(sec)))
		b = append(b, sec...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// decodeCheckpoint parses a checkpoint file's bytes. It never panics and
// allocates only for sizes present in b.
func decodeCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) < len(ckMagic)+1+4 || string(b[:4]) != ckMagic {
		return nil, fmt.Errorf("%w: not a checkpoint", ErrCheckpoint)
	}
	if b[4] != ckVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCheckpoint, b[4])
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCheckpoint)
	}
	rest := body[5:]
	var secs [3][]byte
	for i := range secs {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: truncated section %d", ErrCheckpoint, i)
		}
		secs[i], rest = rest[k:k+int(n)], rest[k+int(n):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCheckpoint, len(rest))
	}
	var meta checkpointMeta
	if err := json.Unmarshal(secs[0], &meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrCheckpoint, err)
	}
	if meta.Round < 0 {
		return nil, fmt.Errorf("%w: round %d", ErrCheckpoint, meta.Round)
	}
	params, err := wire.Limits{MaxBytes: maxCheckpointBytes, MaxElements: maxCheckpointBytes / 4}.DecodeTensor(nil, secs[1])
	if err != nil {
		return nil, fmt.Errorf("%w: parameters: %w", ErrCheckpoint, err)
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("%w: no parameters", ErrCheckpoint)
	}
	return &checkpoint{round: meta.Round, params: params, history: meta.History, strategy: meta.Strategy, state: secs[2]}, nil
}

// restoreStrategy hands the saved state to s.
func (c *checkpoint) restoreStrategy(s Strategy) error {
	if len(c.state) == 0 {
		return nil
	}
	if name := fmt.Sprintf("%T", s); name != c.strategy {
		return fmt.Errorf("%w: saved by strategy %s, resuming with %s", ErrCheckpoint, c.strategy, name)
	}
	u, ok := s.(encoding.BinaryUnmarshaler)
	if !ok {
		return fmt.Errorf("%w: strategy %T cannot restore its state", ErrCheckpoint, s)
	}
	if err := u.UnmarshalBinary(c.state); err != nil {
		return fmt.Errorf("%w: strategy state: %w", ErrCheckpoint, err)
	}
	return nil
}

// save writes the checkpoint atomically: to a temporary file that is
// synced and then renamed over the previous one.
func (c *checkpoint) save(dir string, s Strategy) error {
	b, err := c.encode(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, CheckpointFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
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
	if err := os.Rename(f.Name(), filepath.Join(dir, CheckpointFile)); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadCheckpoint reads the checkpoint in dir, or returns errNoCheckpoint.
func loadCheckpoint(dir string) (*checkpoint, error) {
	f, err := os.Open(filepath.Join(dir, CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCheckpoint
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCheckpointBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCheckpointBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCheckpoint, maxCheckpointBytes)
	}
	ck, err := decodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return ck, nil
}
