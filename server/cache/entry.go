package cache

import (
	"math"
	"unsafe"
)

// entry is the header of one allocation that holds a whole entry: the
// header, then the key's bytes, then the value's. One allocation per entry,
// with no pointers in it (the garbage collector never scans it), is what
// keeps an entry's cost near its key and value; see [EntryOverhead].
//
// An entry is immutable once stored: a change stores a new entry, so
// readers use an entry without holding the shard lock, and the key and
// value it hands out alias its memory.
type entry struct {
	expires int64  // unix nanoseconds; 0 means never
	version uint64 // a written entry's version; 0 for a loaded one
	epoch   uint64 // the view epoch in which the entry was stored or checked
	klen    uint32 // the key's length in the low bits, flags in the top ones
	vlen    uint32 // the value's length
}

// entryHeader is the size of an entry's header; the key starts there.
const entryHeader = int(unsafe.Sizeof(entry{}))

// The flags in an entry's klen.
const (
	flagNegative = 1 << 31 // a remembered not-found
	flagWritten  = 1 << 30 // from a Set or Delete (or a replica of one), not a load
	flagTomb     = 1 << 29 // a Delete's tombstone: reads miss, older records lose
	keyLenMask   = flagTomb - 1
)

// newEntry allocates an entry holding copies of key and value. The caller
// checked their lengths with [entryCost].
func newEntry(key string, value []byte, expires int64, version, epoch uint64, flags uint32) *entry {
	b := make([]byte, entryHeader+len(key)+len(value))
	// A heap block of 32 bytes or more is 8-byte aligned, as the header
	// needs; it holds no pointers, as the header has none.
	e := (*entry)(unsafe.Pointer(unsafe.SliceData(b)))
	e.expires, e.version, e.epoch = expires, version, epoch
	e.klen, e.vlen = uint32(len(key))|flags, uint32(len(value))
	copy(b[entryHeader:], key)
	copy(b[entryHeader+len(key):], value)
	return e
}

func (e *entry) data() unsafe.Pointer { return unsafe.Add(unsafe.Pointer(e), entryHeader) }

// key returns the entry's key, which aliases the entry.
func (e *entry) key() string {
	return unsafe.String((*byte)(e.data()), e.klen&keyLenMask)
}

// value returns the entry's value, which aliases the entry (nil when
// empty). Nobody may modify it.
func (e *entry) value() []byte {
	if e.vlen == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(e.data(), e.klen&keyLenMask)), e.vlen)
}

func (e *entry) negative() bool { return e.klen&flagNegative != 0 }
func (e *entry) written() bool  { return e.klen&flagWritten != 0 }
func (e *entry) tomb() bool     { return e.klen&flagTomb != 0 }

// cost returns what the entry counts against its group's capacity.
func (e *entry) cost() int64 { return costOf(int(e.klen&keyLenMask), int(e.vlen)) }

// record returns e as a [Record].
func (e *entry) record() Record {
	return Record{Key: e.key(), Value: e.value(), Expires: unixTime(e.expires), Version: e.version, Tomb: e.tomb()}
}

func (e *entry) expired(now int64) bool { return e.expires != 0 && now >= e.expires }

// EntryOverhead is what every entry adds to its key and value when counted
// against a group's capacity, for an entry of up to 32 KiB: its header (32
// bytes), its share of the store's index and of the native LRU's, and the
// allocator's rounding up to a size class, on average. Larger entries
// also count the allocator's rounding to whole 8 KiB pages. The
// figure is measured (TestAccountingMatchesHeap, and go run ./cmd/memtest),
// not assumed.
const EntryOverhead = 80

// Allocation sizes that decide an entry's cost: blocks past maxSmallAlloc
// are whole pages.
const (
	maxSmallAlloc = 32 << 10
	allocPage     = 8 << 10
)

// costOf returns the cost of an entry of a klen-byte key and a vlen-byte
// value; too long a key or value costs more than any capacity.
func costOf(klen, vlen int) int64 {
	if klen > keyLenMask || vlen > math.MaxUint32 {
		return math.MaxInt64
	}
	cost := int64(klen+vlen) + EntryOverhead
	if size := entryHeader + klen + vlen; size > maxSmallAlloc {
		cost += int64((size+allocPage-1)/allocPage*allocPage - size)
	}
	return cost
}

func entryCost(key string, value []byte) int64 { return costOf(len(key), len(value)) }
