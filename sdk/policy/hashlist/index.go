package hashlist

import (
	"math/bits"
	"runtime"
)

// index maps hashes to Refs, in place of a Go map, which in WebAssembly
// costs several times more per operation (every call and taken branch
// there pays for the host's interruption check) and several times the
// memory.
//
// It is numSegs open-addressing tables with linear probing, each a
// segment of the hash space picked by the top bits of the mixed hash.
// A segment grows by doubling, on its own, so that growing an index of
// millions of entries never rehashes more than one segment's share in
// one call (the host interrupts a policy call that runs past its
// deadline), and the index's memory grows smoothly instead of doubling at
// once.
//
// A slot is 32 bits, ref<<tagBits | tag, and 0 when empty (no entry has
// Ref 0). The tag is tagBits of the mixed hash that pick neither the
// segment nor the slot, so that a probe reads a node (to confirm the
// hash) for only 1 in 2^tagBits of the other entries it passes. Moving a
// slot (on growth and on deletion) reads its node's hash to find its
// home. A segment is at most 3/4 full; deletion shifts the following
// slots back instead of leaving tombstones.
type index struct {
	segs    [numSegs]segment
	n       int // slots in use
	dropped int // bytes of tables replaced since the last collection
}

// segment is one table of an index.
type segment struct {
	slots []uint32
	mask  uint64 // len(slots) - 1
	shift uint   // 64 - log2(len(slots)); 0 while there are no slots
	n     int    // slots in use
}

const (
	// segBits picks a segment: 256 of them.
	segBits = 8
	numSegs = 1 << segBits
	// tagBits is the size of a slot's tag; the Ref gets the rest.
	tagBits = 5
	tagMask = 1<<tagBits - 1
	// minSlots is the size of a segment's first table.
	minSlots = 8
	// collectAfter is how many bytes of replaced tables make the next
	// growth run the garbage collector, so that their memory is reused for
	// the next tables and nodes rather than the guest's memory growing.
	collectAfter = 16 << 20
)

// mix spreads a host hash, which may be structured (sequential, or
// varying only in some bits), over the top bits, which pick a segment and
// a slot, and the bits below them that make the tag: Fibonacci hashing,
// whose top bits depend on every bit of h. The +1 makes hash 0's tag
// nonzero, so that no hash whose node matches (nodes[0], of no entry,
// holds hash 0) has the tag of an empty slot: [Arena.Lookup] needs no
// test for emptiness before it compares a node's hash.
func mix(h uint64) uint64 { return (h + 1) * 0x9e3779b97f4a7c15 }

// tagOf returns the tag of a mixed hash: bits 27 to 31, below the segment
// and home bits of any segment of fewer than 2²⁴ slots.
func tagOf(m uint64) uint32 { return uint32(m>>27) & tagMask }

// segOf returns the segment of a mixed hash.
func (x *index) segOf(m uint64) *segment { return &x.segs[m>>(64-segBits)] }

// home returns the slot where a mixed hash belongs in s.
func (s *segment) home(m uint64) uint64 { return m << segBits >> s.shift }

// init makes an empty table of size slots, a power of two.
func (s *segment) init(size int) {
	s.slots = make([]uint32, size)
	s.mask = uint64(size - 1)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

// init sizes the index for about n entries, spread evenly.
func (x *index) init(n int) {
	size := max(minSlots, 1<<bits.Len(uint(4*n/3/numSegs)))
	for i := range x.segs {
		x.segs[i].init(size)
	}
}

// Lookup returns the node of hash h.
func (a *Arena) Lookup(h uint64) (Ref, bool) {
	m := mix(h)
	s := a.segOf(m)
	t := tagOf(m)
	for i := s.home(m); i < uint64(len(s.slots)); i = (i + 1) & s.mask {
		v := s.slots[i]
		if v&tagMask == t && a.node(Ref(v>>tagBits)).hash == h {
			return Ref(v >> tagBits), true
		}
		if v == 0 {
			break
		}
	}
	return Nil, false
}

// insert indexes r under h, which must not be indexed yet.
func (a *Arena) insert(h uint64, r Ref) {
	m := mix(h)
	s := a.segOf(m)
	if 4*(s.n+1) > 3*len(s.slots) {
		a.growSegment(s)
	}
	s.n++
	a.n++
	s.place(s.home(m), uint32(r)<<tagBits|tagOf(m))
}

// place puts slot value v in the first empty slot from i.
func (s *segment) place(i uint64, v uint32) {
	for s.slots[i] != 0 {
		i = (i + 1) & s.mask
	}
	s.slots[i] = v
}

// growSegment doubles s's table (or makes the first one).
func (a *Arena) growSegment(s *segment) {
	old := s.slots
	s.init(max(minSlots, 2*len(old)))
	for _, v := range old {
		if v != 0 {
			s.place(s.home(mix(a.node(Ref(v>>tagBits)).hash)), v)
		}
	}
	a.dropped += 4 * len(old)
	if a.dropped >= collectAfter {
		a.dropped = 0
		runtime.GC()
	}
}

// remove forgets r, indexed under h, and shifts back the slots after it
// that may move closer to their homes, so that no probe ever stops early.
func (a *Arena) remove(h uint64, r Ref) {
	m := mix(h)
	s := a.segOf(m)
	if s.n == 0 {
		return
	}
	mask := s.mask
	i := s.home(m)
	for s.slots[i]>>tagBits != uint32(r) {
		if s.slots[i] == 0 {
			return // not indexed
		}
		i = (i + 1) & mask
	}
	s.n--
	a.n--
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		// The slot at j may fill the hole at i if i is not before its home
		// k, that is if i lies cyclically in [k, j).
		k := s.home(mix(a.node(Ref(s.slots[j] >> tagBits)).hash))
		if (j-i)&mask <= (j-k)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
}
