package consent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File format of a FileStore:
//
//	file   = header *frame
//	header = "HEARTH-CONSENT" 0x00 0x01          (16 bytes)
//	frame  = "HREC" length:uint32be crc:uint32be payload
//
// crc is CRC-32C (Castagnoli) of the 4 length bytes followed by the
// payload. A frame is written whole in one write call, and a batch of
// frames is made durable with one fsync (group commit).
const (
	// gatherWait bounds how long a flush waits for concurrent writers.
	gatherWait     = 200 * time.Microsecond
	fileHeader     = "HEARTH-CONSENT\x00\x01"
	frameMagic     = "HREC"
	frameHeaderLen = 12
	// MaxRecordSize is the largest record a FileStore accepts.
	MaxRecordSize = 16 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FileStoreOptions configures OpenFileStore. The zero value is ready to use.
//
// OpenFileStore only reads a FileStoreOptions and keeps nothing but the
// Logger, so one value may be shared by concurrent calls (it is not safe to modify while
// one is running).
type FileStoreOptions struct {
	// Logger receives a warning when a torn tail is truncated on open.
	// Nil discards.
	Logger *slog.Logger
}

// FileStore is the durable, embedded Store: an append-only file of
// checksummed records.
//
// Appends are buffered in memory; Sync writes everything buffered with one
// write and one fdatasync, and concurrent Syncs share it (group commit):
// while one goroutine flushes, the others' records gather for the next
// flush. When recent flushes carried several writers' records, a flush
// waits up to 200µs for as many to arrive before it starts, so that
// writers released by the previous flush join this one instead of waiting
// for the next; a lone writer never waits.
// Opening a file whose last record was torn by a crash truncates it (the
// record was never acknowledged); a damaged record followed by intact ones
// cannot be a torn write, so OpenFileStore refuses the file with a
// *CorruptError rather than lose acknowledged data. Compact rewrites the
// file atomically (write, fsync, rename, fsync the directory).
//
// A FileStore holds an exclusive lock (a ".lock" file next to it, on
// platforms with flock) so that two processes cannot append to one file.
// It is safe for concurrent use.
type FileStore struct {
	path   string
	logger *slog.Logger
	unlock func()

	mu       sync.Mutex
	f        *os.File
	size     int64         // durable file size (bytes written and synced)
	buf      []byte        // frames appended but not yet written
	spare    []byte        // recycled buffer
	appended uint64        // records appended
	synced   uint64        // records durable
	flushing chan struct{} // closed when the flush in progress ends
	expect   uint64        // concurrent writers expected in a flush
	gather   uint64        // the leader waits for this many appended records
	gathered chan struct{} // closed by Append when gather is reached
	err      error         // sticky failure
	closed   bool
}

var (
	_ Store     = (*FileStore)(nil)
	_ Compactor = (*FileStore)(nil)
)

// OpenFileStore opens the store file at path, creating it (and its
// directory) if needed. A torn tail left by a crash is truncated; any other
// damage is reported as a *CorruptError.
func OpenFileStore(path string, opts FileStoreOptions) (*FileStore, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("consent: open store: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &FileStore{path: path, logger: logger, unlock: unlock}
	if err := s.open(); err != nil {
		unlock()
		return nil, err
	}
	return s, nil
}

func (s *FileStore) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("consent: open store: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("consent: open store: %w", err)
	}
	if st.Size() < int64(len(fileHeader)) {
		// New file, or a crash while creating it: nothing was ever
		// acknowledged, so (re)write the header.
		if err := writeHeader(f); err != nil {
			f.Close()
			return err
		}
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			f.Close()
			return err
		}
		s.f, s.size = f, int64(len(fileHeader))
		return nil
	}
	end, err := validate(f, st.Size(), s.path)
	if err != nil {
		f.Close()
		return err
	}
	if end < st.Size() {
		s.logger.Warn("consent: truncating torn tail of store", "path", s.path, "offset", end, "bytes", st.Size()-end)
		if err := f.Truncate(end); err != nil {
			f.Close()
			return fmt.Errorf("consent: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("consent: truncate torn tail: %w", err)
		}
	}
	s.f, s.size = f, end
	return nil
}

func writeHeader(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("consent: write store header: %w", err)
	}
	if _, err := f.WriteAt([]byte(fileHeader), 0); err != nil {
		return fmt.Errorf("consent: write store header: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("consent: write store header: %w", err)
	}
	return nil
}

// validate checks every frame of the file and returns where the intact
// prefix ends. A bad frame with an intact frame somewhere after it is
// corruption; a bad frame with nothing intact after it is a torn tail.
func validate(f *os.File, size int64, path string) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	hdr := make([]byte, len(fileHeader))
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr) != fileHeader {
		return 0, &CorruptError{Path: path, Offset: 0, Reason: "not a consent store (bad header)"}
	}
	off := int64(len(fileHeader))
	for off < size {
		n, reason := nextFrame(r, size-off)
		if reason != "" {
			rest := make([]byte, size-off)
			if _, err := f.ReadAt(rest, off); err != nil {
				return 0, fmt.Errorf("consent: read store: %w", err)
			}
			if at := findFrame(rest[1:]); at >= 0 {
				return 0, &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf("%s, yet an intact record follows at offset %d", reason, off+1+int64(at))}
			}
			return off, nil
		}
		off += n
	}
	return off, nil
}

// nextFrame reads one frame from r, where avail bytes remain in the file,
// and returns its length or why it is bad.
func nextFrame(r *bufio.Reader, avail int64) (int64, string) {
	if avail < frameHeaderLen {
		return 0, "truncated record header"
	}
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, "unreadable record header"
	}
	if string(h[:4]) != frameMagic {
		return 0, "bad record marker"
	}
	n := binary.BigEndian.Uint32(h[4:8])
	if n > MaxRecordSize || int64(n) > avail-frameHeaderLen {
		return 0, "record length out of range"
	}
	crc := crc32.Update(0, crcTable, h[4:8])
	for remaining := int(n); remaining > 0; {
		chunk, err := r.Peek(min(remaining, r.Size()))
		if err != nil {
			return 0, "unreadable record"
		}
		crc = crc32.Update(crc, crcTable, chunk)
		r.Discard(len(chunk))
		remaining -= len(chunk)
	}
	if crc != binary.BigEndian.Uint32(h[8:12]) {
		return 0, "checksum mismatch"
	}
	return frameHeaderLen + int64(n), ""
}

// DecodeFrame decodes the first frame in b, returning its payload and the
// frame's total length. It is the pure core of the file store's reader
// (and its fuzz target); errors wrap ErrCorrupt.
func decodeFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) < frameHeaderLen {
		return nil, 0, fmt.Errorf("%w: truncated record header", ErrCorrupt)
	}
	if string(b[:4]) != frameMagic {
		return nil, 0, fmt.Errorf("%w: bad record marker", ErrCorrupt)
	}
	size := binary.BigEndian.Uint32(b[4:8])
	if size > MaxRecordSize || uint64(size) > uint64(len(b)-frameHeaderLen) {
		return nil, 0, fmt.Errorf("%w: record length out of range", ErrCorrupt)
	}
	end := frameHeaderLen + int(size)
	crc := crc32.Update(crc32.Update(0, crcTable, b[4:8]), crcTable, b[frameHeaderLen:end])
	if crc != binary.BigEndian.Uint32(b[8:12]) {
		return nil, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return b[frameHeaderLen:end], end, nil
}

// findFrame returns the offset of the first intact frame in b, or -1.
func findFrame(b []byte) int {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(frameMagic))
		if j < 0 {
			return -1
		}
		if _, _, err := decodeFrame(b[i+j:]); err == nil {
			return i + j
		}
		i += j + 1
	}
}

func appendFrame(dst, payload []byte) []byte {
	var h [frameHeaderLen]byte
	copy(h[:4], frameMagic)
	binary.BigEndian.PutUint32(h[4:8], uint32(len(payload)))
	crc := crc32.Update(crc32.Update(0, crcTable, h[4:8]), crcTable, payload)
	binary.BigEndian.PutUint32(h[8:12], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// Path returns the store file's path.
func (s *FileStore) Path() string { return s.path }

// Size returns the store file's durable size in bytes.
func (s *FileStore) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Append buffers rec; Sync makes it durable.
func (s *FileStore) Append(rec []byte) error {
	if len(rec) > MaxRecordSize {
		return fmt.Errorf("%w: record of %d bytes exceeds %d", ErrInvalidRequest, len(rec), MaxRecordSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.buf = appendFrame(s.buf, rec)
	s.appended++
	if s.gathered != nil && s.appended >= s.gather {
		close(s.gathered)
		s.gathered = nil
	}
	return nil
}

func (s *FileStore) usable() error {
	if s.closed {
		return ErrClosed
	}
	return s.err
}

// Sync writes and fsyncs every record appended before the call. Concurrent
// calls share flushes. If ctx ends while waiting for another goroutine's
// flush, Sync returns ctx's error and the records still become durable.
func (s *FileStore) Sync(ctx context.Context) error {
	s.mu.Lock()
	target := s.appended
	for {
		if err := s.usable(); err != nil {
			s.mu.Unlock()
			return err
		}
		if s.synced >= target {
			s.mu.Unlock()
			return nil
		}
		if s.flushing != nil {
			done := s.flushing
			s.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
			s.mu.Lock()
			continue
		}
		// Lead a flush of everything buffered so far.
		done := make(chan struct{})
		s.flushing = done
		if want := s.synced + s.expect; s.expect > 1 && s.appended < want {
			// Others are writing too: give the writers the previous
			// flush released a moment to append their next records, so
			// that they share this flush rather than wait a whole fsync
			// for the next one (PostgreSQL's commit_delay, adaptive).
			gathered := make(chan struct{})
			s.gather, s.gathered = want, gathered
			s.mu.Unlock()
			t := time.NewTimer(gatherWait)
			select {
			case <-gathered:
			case <-t.C:
			}
			t.Stop()
			s.mu.Lock()
			s.gathered = nil
		}
		buf, n, off, f := s.buf, s.appended, s.size, s.f
		s.buf, s.spare = s.spare[:0], nil
		// Expect as many writers as the largest recent flush had; forget
		// one a flush, so that a writer that left stops being waited for.
		s.expect = max(n-s.synced, s.expect-min(s.expect, 1))
		s.mu.Unlock()

		_, err := f.WriteAt(buf, off)
		if err == nil {
			err = datasync(f)
		}

		s.mu.Lock()
		if err != nil {
			s.err = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		} else {
			s.synced, s.size = n, off+int64(len(buf))
		}
		if cap(buf) <= 1<<20 {
			s.spare = buf[:0]
		}
		s.flushing = nil
		close(done)
	}
}

// Records syncs and then yields every record in the file, in order.
func (s *FileStore) Records(ctx context.Context) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if err := s.Sync(ctx); err != nil {
			yield(nil, err)
			return
		}
		s.mu.Lock()
		f, size := s.f, s.size
		s.mu.Unlock()
		r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
		if _, err := r.Discard(len(fileHeader)); err != nil {
			yield(nil, fmt.Errorf("consent: read store: %w", err))
			return
		}
		off := int64(len(fileHeader))
		var h [frameHeaderLen]byte
		for off < size {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if _, err := io.ReadFull(r, h[:]); err != nil {
				yield(nil, fmt.Errorf("consent: read store: %w", err))
				return
			}
			n := binary.BigEndian.Uint32(h[4:8])
			if string(h[:4]) != frameMagic || n > MaxRecordSize || int64(n) > size-off-frameHeaderLen {
				yield(nil, &CorruptError{Path: s.path, Offset: off, Reason: "bad record header"})
				return
			}
			rec := make([]byte, n)
			if _, err := io.ReadFull(r, rec); err != nil {
				yield(nil, fmt.Errorf("consent: read store: %w", err))
				return
			}
			if crc32.Update(crc32.Update(0, crcTable, h[4:8]), crcTable, rec) != binary.BigEndian.Uint32(h[8:12]) {
				yield(nil, &CorruptError{Path: s.path, Offset: off, Reason: "checksum mismatch"})
				return
			}
			if !yield(rec, nil) {
				return
			}
			off += frameHeaderLen + int64(n)
		}
	}
}

// Compact atomically replaces the file's records with recs.
func (s *FileStore) Compact(ctx context.Context, recs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.flushing != nil {
		done := s.flushing
		s.mu.Unlock()
		<-done
		s.mu.Lock()
	}
	if err := s.usable(); err != nil {
		return err
	}
	tmp := s.path + ".compact"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("consent: compact: %w", err)
	}
	buf := []byte(fileHeader)
	for _, r := range recs {
		if len(r) > MaxRecordSize {
			nf.Close()
			os.Remove(tmp)
			return fmt.Errorf("%w: record of %d bytes exceeds %d", ErrInvalidRequest, len(r), MaxRecordSize)
		}
		buf = appendFrame(buf, r)
	}
	if _, err := nf.Write(buf); err == nil {
		err = nf.Sync()
	}
	if err != nil {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("consent: compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("consent: compact: %w", err)
	}
	old := s.f
	s.f, s.size = nf, int64(len(buf))
	s.buf = s.buf[:0]
	s.synced = s.appended
	old.Close()
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		// The rename may not be durable: the file on disk is either the
		// old or the new one, and which is unknown.
		s.err = fmt.Errorf("%w: compact: %w", ErrStoreFailed, err)
		return s.err
	}
	return nil
}

// Close flushes buffered records and closes the file.
func (s *FileStore) Close() error {
	err := s.Sync(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.unlock()
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("consent: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("consent: sync directory: %w", err)
	}
	return nil
}
