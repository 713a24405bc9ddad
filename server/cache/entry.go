package cache

import (
	"math"
	"unsafe"
)

// entry is the header of one allocation that holds a whole entry: the
// header, the entry's version if it has one, its expiry if it has one,
// then the key's bytes and the value's. One allocation per entry, with no
// pointers in it (the garbage collector never scans it), and no room for
// what an entry does not have, is what keeps an entry's cost near its key
// and value; see [EntryOverhead].
//
// An entry is immutable once stored: a change stores a new entry, so
// readers use an entry without holding the shard lock, and the key and
// value it hands out alias its memory.
type entry struct {
	epoch uint64 // the view epoch in which the entry was stored or checked
	klen  uint32 // the key's length in the low bits, flags in the top ones
	vlen  uint32 // the value's length
}

// entryHeader is the size of an entry's fixed header; the optional fields
// follow it, 8 bytes each.
const entryHeader = int(unsafe.Sizeof(entry{}))

// The flags in an entry's klen.
const (
	flagNegative = 1 << 31 // a remembered not-found
	flagWritten  = 1 << 30 // from a Set or Delete (or a replica of one), not a load
	flagTomb     = 1 << 29 // a Delete's tombstone: reads miss, older records lose
	flagVersion  = 1 << 28 // a version follows the header
	flagExpires  = 1 << 27 // an expiry follows the header (and the version)
	keyLenMask   = flagExpires - 1
)

// newEntry allocates an entry holding copies of key and value, expiring
// at expires (unix nanoseconds; 0 means never), of version (0 for a loaded
// entry). The caller checked their lengths with [entryCost].
func newEntry(key string, value []byte, expires int64, version, epoch uint64, flags uint32) *entry {
	off := entryHeader
	if version != 0 {
		flags |= flagVersion
		off += 8
	}
	if expires != 0 {
		flags |= flagExpires
		off += 8
	}
	b := make([]byte, off+len(key)+len(value))
	// A heap block of 16 bytes or more is 8-byte aligned, as the header
	// needs; it holds no pointers, as the header has none.
	e := (*entry)(unsafe.Pointer(unsafe.SliceData(b)))
	e.epoch = epoch
	e.klen, e.vlen = uint32(len(key))|flags, uint32(len(value))
	if version != 0 {
		*(*uint64)(unsafe.Add(unsafe.Pointer(e), entryHeader)) = version
	}
	if expires != 0 {
		*(*int64)(unsafe.Add(unsafe.Pointer(e), off-8)) = expires
	}
	copy(b[off:], key)
	copy(b[off+len(key):], value)
	return e
}

// version returns the entry's version: a written entry's, 0 for a loaded
// one.
func (e *entry) version() uint64 {
	if e.klen&flagVersion == 0 {
		return 0
	}
	return *(*uint64)(unsafe.Add(unsafe.Pointer(e), entryHeader))
}

// expires returns when the entry expires in unix nanoseconds; 0 means
// never.
func (e *entry) expires() int64 {
	if e.klen&flagExpires == 0 {
		return 0
	}
	return *(*int64)(unsafe.Add(e.data(), -8))
}

// data points at the entry's key.
func (e *entry) data() unsafe.Pointer {
	off := entryHeader
	if e.klen&flagVersion != 0 {
		off += 8
	}
	if e.klen&flagExpires != 0 {
		off += 8
	}
	return unsafe.Add(unsafe.Pointer(e), off)
}

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
	return Record{Key: e.key(), Value: e.value(), Expires: unixTime(e.expires()), Version: e.version(), Tomb: e.tomb()}
}

func (e *entry) expired(now int64) bool {
	exp := e.expires()
	return exp != 0 && now >= exp
}

// EntryOverhead is what every entry adds to its key and value when counted
// against a group's capacity, for an entry of up to 32 KiB: its header (16
// bytes, and 8 more for each of a version and an expiry), its share of the
// store's index (one tag byte and one pointer per slot, 4/5 to 2/5 of the
// slots used) and of the native LRU's (a 20-byte node, one tag byte and 4
// bytes per slot), and the allocator's rounding up to a size class, on
// average. Larger entries also count the allocator's rounding to whole
// 8 KiB pages. The figure is measured (TestAccountingMatchesHeap, and go
// run ./cmd/memtest -inproc): 16-byte keys with 100-byte values take
// 67-77 bytes beyond key and value, with 8-byte values 63, not-found
// entries 71.
const EntryOverhead = 72

// Allocation sizes that decide an entry's cost: blocks past maxSmallAlloc
// are whole pages.
const (
	maxSmallAlloc = 32 << 10
	allocPage     = 8 << 10
)

// costOf returns the cost of an entry of a klen-byte key and a vlen-byte
// value; too long a key or value costs more than any capacity.
func costOf(klen, vlen int) int64 {
	if klen > keyLenMask || uint64(vlen) > math.MaxUint32 {
		return math.MaxInt64
	}
	cost := int64(klen+vlen) + EntryOverhead
	if size := entryHeader + 16 + klen + vlen; size > maxSmallAlloc {
		cost += int64((size+allocPage-1)/allocPage*allocPage - size)
	}
	return cost
}

func entryCost(key string, value []byte) int64 { return costOf(len(key), len(value)) }
