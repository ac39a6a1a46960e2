package thing

// slab hands out values of T carved from larger blocks, so decoding a
// document with forty properties costs a handful of allocations for them
// instead of forty. Values stay reachable as long as any value of their
// block is, which is the lifetime of the decoded document anyway.
//
// Blocks stay small (a few KiB): a large block would be a large-object
// allocation, which costs far more than the small ones it replaces.
type slab[T any] struct {
	buf   []T
	max   int // largest block, in values; 0 means 64
	first int // size of the first block, in values; 0 means 4
}

func (s *slab[T]) grow(n int) {
	limit := s.max
	if limit == 0 {
		limit = 64
	}
	c := 2 * cap(s.buf)
	if c == 0 {
		c = s.first
	}
	if c < 4 {
		c = 4
	}
	if c > limit {
		c = limit
	}
	if c < n {
		c = n
	}
	s.buf = make([]T, 0, c)
}

// new returns a pointer to a zero T.
func (s *slab[T]) new() *T {
	if len(s.buf) == cap(s.buf) {
		s.grow(1)
	}
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// clone returns a copy of src whose capacity equals its length, so an
// append by the caller reallocates rather than overwriting a neighbour.
func (s *slab[T]) clone(src []T) []T {
	n := len(src)
	if n == 0 {
		return []T{} // empty, not nil: the document had the member
	}
	if n > 8 {
		out := make([]T, n)
		copy(out, src)
		return out
	}
	if cap(s.buf)-len(s.buf) < n {
		s.grow(n)
	}
	start := len(s.buf)
	s.buf = append(s.buf, src...)
	return s.buf[start : start+n : start+n]
}

// extend appends a zero value to the run of values starting at *start
// (which must end at the end of the current block) and returns it. If the
// block is full, the run moves to a new block and *start changes. Runs
// built this way are contiguous, so the caller can slice them out.
func (s *slab[T]) extend(start *int) *T {
	if len(s.buf) == cap(s.buf) {
		run := s.buf[*start:]
		s.grow(2 * (len(run) + 1))
		s.buf = append(s.buf, run...)
		clear(run) // let the old block's copies go
		*start = 0
	}
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// run returns the values from start to the end of the block, with
// capacity equal to length.
func (s *slab[T]) run(start int) []T {
	if start == len(s.buf) {
		return []T{}
	}
	return s.buf[start:len(s.buf):len(s.buf)]
}
