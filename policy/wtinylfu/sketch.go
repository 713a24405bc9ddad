package main

import "math/bits"

// sketch is a count-min sketch of 4-bit counters that estimates how often
// a hash was seen recently, as in Caffeine's FrequencySketch: each hash
// maps to one 64-byte block and to four counters in it. After sampleSize
// (10 × entries) increments every counter is halved, so old popularity
// fades.
//
// Unlike Caffeine and otter, which give the table one 64-bit word (16
// counters) per entry, it gets wordsPerEntry words. The sample holds ten
// sightings per entry, most of them of keys that are never resident (the
// tail of a Zipf distribution), and in a table of one word per entry their
// collisions inflate the counts of cold candidates and victims alike, so
// admission decides on noise where the popularities are close. Four words
// per entry cost 32 bytes an entry, little next to the entry itself, and
// measured 0.002–0.01 more hits on Zipf traces (s 0.8–1.2, 100 to 10,000
// entries) than otter v2; two words gave about half of that.
type sketch struct {
	table      []uint64
	blockMask  uint64
	sampleSize uint64
	size       uint64 // increments since the last halving
}

const (
	resetMask = 0x7777777777777777
	oneMask   = 0x1111111111111111
	// wordsPerEntry is the size of the table, in 64-bit words per entry.
	wordsPerEntry = 4
	// maxTableWords bounds the table (8 bytes a word) whatever the
	// capacity; a policy this large would not fit in a plugin's memory.
	maxTableWords = 1 << 21
)

// ready reports whether the sketch has a table; before that it counts
// nothing and every frequency is 0.
func (s *sketch) ready() bool { return s.table != nil }

// ensureCapacity sizes the sketch for about entries distinct hashes,
// starting it over if it grows.
func (s *sketch) ensureCapacity(entries uint64) {
	entries = max(entries, 8)
	n := min(uint64(1)<<bits.Len64(entries*wordsPerEntry-1), maxTableWords)
	if uint64(len(s.table)) >= n {
		return
	}
	s.table = make([]uint64, n)
	s.blockMask = n>>3 - 1
	s.sampleSize = 10 * entries
	s.size = 0
}

// frequency returns the estimated count of h, at most 15.
func (s *sketch) frequency(h uint64) uint64 {
	if !s.ready() {
		return 0
	}
	blockHash := spread(h)
	counterHash := rehash(blockHash)
	block := (blockHash & s.blockMask) << 3
	freq := uint64(15)
	for i := uint64(0); i < 4; i++ {
		c := counterHash >> (i << 3)
		slot := block + c&1 + i<<1
		freq = min(freq, s.table[slot]>>(((c>>1)&15)<<2)&0xf)
	}
	return freq
}

// increment counts one sighting of h, and halves every counter once the
// sample is full.
func (s *sketch) increment(h uint64) {
	if !s.ready() {
		return
	}
	blockHash := spread(h)
	counterHash := rehash(blockHash)
	block := (blockHash & s.blockMask) << 3
	added := false
	for i := uint64(0); i < 4; i++ {
		c := counterHash >> (i << 3)
		slot := block + c&1 + i<<1
		shift := ((c >> 1) & 15) << 2
		if s.table[slot]>>shift&0xf != 0xf {
			s.table[slot] += 1 << shift
			added = true
		}
	}
	if added {
		s.size++
		if s.size == s.sampleSize {
			s.reset()
		}
	}
}

// reset halves every counter, and the sample count with them (less the
// odd counts lost to rounding).
func (s *sketch) reset() {
	odd := 0
	for i, w := range s.table {
		odd += bits.OnesCount64(w & oneMask)
		s.table[i] = (w >> 1) & resetMask
	}
	s.size = (s.size - uint64(odd)>>2) >> 1
}

// spread mixes a key hash, so that a weak host hash still spreads over the
// blocks.
func spread(h uint64) uint64 {
	h ^= h >> 17
	h *= 0xed5ad4bb
	h ^= h >> 11
	h *= 0xac4c1b51
	h ^= h >> 15
	return h
}

// rehash derives the counter indexes from a block hash.
func rehash(h uint64) uint64 {
	h *= 0x31848bab
	h ^= h >> 14
	return h
}
