// Package trace reads cache access traces, makes synthetic ones, and replays
// them against eviction policies to measure hit ratios.
//
// A trace is a stream of 64-bit keys (block numbers). [Open] reads the ARC
// and LIRS text formats, plain or gzipped; [Zipf] and [Loop] generate
// traces; [Replay] drives a [cache.Policy] the way a group does, and
// [References] lists the native caches to compare it with.
package trace

// Reader yields the keys of a trace in order. Next returns false at the end
// of the trace or at the first error; Err then returns that error, or nil
// at a clean end. A Reader is not safe for concurrent use.
type Reader interface {
	Next() (uint64, bool)
	Err() error
}

// Slice returns a [Reader] of keys. It reads keys without copying them; the
// caller must not modify keys while the Reader is in use.
func Slice(keys []uint64) Reader { return &sliceReader{keys: keys} }

type sliceReader struct {
	keys []uint64
	i    int
}

func (r *sliceReader) Next() (uint64, bool) {
	if r.i >= len(r.keys) {
		return 0, false
	}
	r.i++
	return r.keys[r.i-1], true
}

func (r *sliceReader) Err() error { return nil }

// Collect reads r to its end and returns its keys, or the Reader's error.
func Collect(r Reader) ([]uint64, error) {
	var keys []uint64
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		keys = append(keys, k)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return keys, nil
}

// errReader is an empty Reader that fails with err.
type errReader struct{ err error }

func (r errReader) Next() (uint64, bool) { return 0, false }
func (r errReader) Err() error           { return r.err }
