package trace

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
)

// MaxZipfKeys is the most keys [Zipf] draws from: its table takes 8 bytes a
// key.
const MaxZipfKeys = 1 << 24

// Zipf returns a [Reader] of n keys drawn from 0..keys-1 with a Zipf
// distribution: key k (rank k+1) has probability proportional to
// 1/(k+1)^s. Key 0 is the most popular. Any s >= 0 works, including the
// s <= 1 of real caches that math/rand/v2's Zipf does not take: Zipf samples
// by inverting a cumulative table, binary-searched. The same arguments give
// the same keys. Bad arguments (keys outside 1..[MaxZipfKeys], s negative or
// not a number) give an empty Reader whose Err says why.
func Zipf(n int, keys uint64, s float64, seed uint64) Reader {
	if keys == 0 || keys > MaxZipfKeys {
		return errReader{errors.New("trace: zipf: keys must be 1..2^24")}
	}
	if !(s >= 0) || math.IsInf(s, 1) {
		return errReader{errors.New("trace: zipf: s must be a finite number >= 0")}
	}
	cdf := make([]float64, keys)
	var sum float64
	for k := range cdf {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	return &zipfReader{
		left: n,
		cdf:  cdf,
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

type zipfReader struct {
	left int
	cdf  []float64 // cdf[k] = sum of weights of keys 0..k
	rng  *rand.Rand
}

func (z *zipfReader) Next() (uint64, bool) {
	if z.left <= 0 {
		return 0, false
	}
	z.left--
	u := z.rng.Float64() * z.cdf[len(z.cdf)-1]
	k := sort.Search(len(z.cdf), func(i int) bool { return z.cdf[i] > u })
	return uint64(min(k, len(z.cdf)-1)), true
}

func (z *zipfReader) Err() error { return nil }

// Loop returns a [Reader] of n keys cycling through 0, 1, ..., length-1:
// the scan that defeats LRU when length exceeds the cache. A length of 0
// gives an empty Reader whose Err says so.
func Loop(n int, length uint64) Reader {
	if length == 0 {
		return errReader{errors.New("trace: loop: length must be >= 1")}
	}
	return &loopReader{left: n, length: length}
}

type loopReader struct {
	left   int
	length uint64
	next   uint64
}

func (l *loopReader) Next() (uint64, bool) {
	if l.left <= 0 {
		return 0, false
	}
	l.left--
	k := l.next
	if l.next++; l.next == l.length {
		l.next = 0
	}
	return k, true
}

func (l *loopReader) Err() error { return nil }
