package hashlist

import "math/bits"

// index maps hashes to Refs: an open-addressing hash table with linear
// probing on one slice, in place of a Go map, which in WebAssembly costs
// several times more per operation (every call and taken branch there
// pays for the host's interruption check).
//
// A slot holds tag<<32 | ref, and 0 when empty (no entry has Ref 0). The
// tag is the top 32 bits of the mixed hash, whose top bits are also the
// slot's home, so that moving slots (on growth and on deletion) needs no
// node. A tag match is confirmed against the node's hash. The table is at
// most half full, so probes are short; deletion shifts the following
// slots back instead of leaving tombstones.
type index struct {
	slots []uint64
	mask  uint64 // len(slots) - 1
	shift uint   // 64 - log2(len(slots)): a mixed hash's home is m >> shift
	n     int    // slots in use
}

// minSlots is the size of the smallest table.
const minSlots = 8

// mix spreads a host hash, which may be structured (sequential, or
// varying only in some bits), over the top bits, which pick a slot and
// make the tag: Fibonacci hashing, whose top bits depend on every bit of
// h. The +1 keeps hash 0 from mixing to a tag of 0, which an empty slot
// has: so [Arena.Lookup] needs no test for emptiness before it compares a
// node's hash (nodes[0], of no entry, holds hash 0).
func mix(h uint64) uint64 { return (h + 1) * 0x9e3779b97f4a7c15 }

// init makes an empty table for about n entries.
func (x *index) init(n int) {
	size := max(minSlots, 1<<bits.Len(uint(2*n)))
	x.slots = make([]uint64, size)
	x.mask = uint64(size - 1)
	x.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

// insert indexes r under h, which must not be indexed yet.
func (x *index) insert(h uint64, r Ref) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.n++
	x.place(mix(h)>>32<<32 | uint64(uint32(r)))
}

// place puts slot value s in the first empty slot from its home.
func (x *index) place(s uint64) {
	mask := x.mask
	i := s >> 32 >> (x.shift - 32)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

// grow doubles the table (or makes the first one).
func (x *index) grow() {
	old := x.slots
	x.init(len(old))
	for _, s := range old {
		if s != 0 {
			x.place(s)
		}
	}
}

// remove forgets r, indexed under h, and shifts back the slots after it
// that may move closer to their homes, so that no probe ever stops early.
func (x *index) remove(h uint64, r Ref) {
	if x.n == 0 {
		return
	}
	mask := x.mask
	i := mix(h) >> x.shift
	for uint32(x.slots[i]) != uint32(r) {
		if x.slots[i] == 0 {
			return // not indexed
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		// The slot at j may fill the hole at i if i is not before its home
		// k, that is if i lies cyclically in [k, j).
		k := x.slots[j] >> 32 >> (x.shift - 32)
		if (j-i)&mask <= (j-k)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
}
