// Package trace reads cache access traces, makes synthetic ones, and replays
// them against eviction policies to measure hit ratios.
//
// A trace is a stream of requests for 64-bit keys (block numbers, object
// ids), and in some formats of the objects' sizes. [Open] reads a trace
// file, plain or compressed with gzip, xz or zstd (detected by their magic
// bytes), in one of these formats ([Format]), given or detected:
//
//   - arc: text, "start count ..." per line, for the blocks start to
//     start+count-1 (the ARC paper's traces; [ParseARC]).
//   - lirs: text, one block number per line; a line of just "*" is
//     skipped (the LIRS paper's traces; [ParseLIRS]).
//   - binary: 8-byte big-endian keys back to back, as the corda and scarab
//     traces of Caffeine's and otter's simulators (both read them with a
//     big-endian readLong); binary-le is the little-endian variant
//     ([ParseBinary]).
//   - oracle: libCacheSim's oracleGeneral, 24-byte little-endian records
//     of uint32 timestamp, uint64 object id, uint32 size and int64 next
//     access; it carries sizes ([ParseOracle]).
//   - csv: a key and optionally a size per line, with an optional header
//     naming the columns; string keys are hashed with FNV-1a; it carries
//     sizes when it has a size column ([ParseCSV]).
//
// In text formats blank lines and lines starting with '#' are skipped.
// Errors name the file and the line, or for binary formats the record and
// its byte offset ([ParseError]).
//
// A [Reader] yields keys; a [Sized] one also the size of each. Sizes are
// an optional interface so that every Reader of keys works as before and
// wrappers that only count keys stay simple; a replay that wants sizes
// asks for a Sized ([ReplaySized]). [File.Load] reads a whole trace into
// memory on all cores, [NewFuture] indexes it for Belady's OPT and counts
// its distinct keys. [Zipf] and [Loop] generate traces; [Replay] drives a
// [cache.Policy] the way a group does, and [References] lists the native
// caches to compare it with.
package trace

// Reader yields the keys of a trace in order. Next returns false at the end
// of the trace or at the first error; Err then returns that error, or nil
// at a clean end. A Reader is not safe for concurrent use.
type Reader interface {
	Next() (uint64, bool)
	Err() error
}

// Sized is a Reader of a trace that carries object sizes. Size returns the
// size in bytes of the object whose key Next returned last (0 when the
// trace gives none for it).
type Sized interface {
	Reader
	Size() int64
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

// SizedSlice returns a [Sized] reader of keys and their sizes, which must
// be as long; it reads them without copying.
func SizedSlice(keys []uint64, sizes []uint32) Sized {
	return &sizedSliceReader{sliceReader: sliceReader{keys: keys}, sizes: sizes}
}

type sizedSliceReader struct {
	sliceReader
	sizes []uint32
}

func (r *sizedSliceReader) Size() int64 { return int64(r.sizes[r.i-1]) }

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

// CollectSized reads r to its end and returns its keys and sizes (sizes
// over 4 GiB saturate), or the Reader's error.
func CollectSized(r Sized) ([]uint64, []uint32, error) {
	var keys []uint64
	var sizes []uint32
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		keys = append(keys, k)
		sizes = append(sizes, uint32(min(max(r.Size(), 0), 1<<32-1)))
	}
	if err := r.Err(); err != nil {
		return nil, nil, err
	}
	return keys, sizes, nil
}

// errReader is an empty Reader that fails with err.
type errReader struct{ err error }

func (r errReader) Next() (uint64, bool) { return 0, false }
func (r errReader) Err() error           { return r.err }
