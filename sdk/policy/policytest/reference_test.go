package policytest

import (
	"fmt"
	"strings"
	"testing"
)

// references are the simulations of this package, by name.
var references = []struct {
	name string
	ref  Reference
}{
	{"LRU", LRU}, {"FIFO", FIFO}, {"CLOCK", CLOCK}, {"SIEVE", SIEVE}, {"S3FIFO", S3FIFO},
}

// outcomes replays keys through ref and returns a letter a request: H for
// a hit, m for a miss. A Reference returns only its hit count, so the
// outcome of request i is the count for keys[:i+1] less that of keys[:i].
func outcomes(ref Reference, keys []uint64, capacity int) string {
	var b strings.Builder
	prev := 0
	for i := range keys {
		n := ref(keys[:i+1], capacity)
		b.WriteByte("mH"[n-prev])
		prev = n
	}
	return b.String()
}

// seq returns the keys from..to, inclusive.
func seq(from, to uint64) []uint64 {
	var out []uint64
	for k := from; k <= to; k++ {
		out = append(out, k)
	}
	return out
}

func cat(parts ...[]uint64) []uint64 {
	var out []uint64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestReferenceDecisions checks each simulation request by request on
// sequences worked out by hand from the papers.
func TestReferenceDecisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref      Reference
		keys     []uint64
		capacity int
		want     string
	}{
		{"LRU evicts the least recent", LRU, []uint64{1, 2, 1, 3, 2, 1}, 2, "mmHmmm"},
		{"FIFO ignores hits", FIFO, []uint64{1, 2, 1, 3, 2, 1}, 2, "mmHmHm"},
		// 4 clears 1's bit and evicts 2; 5 evicts 3; 6 evicts 1.
		{"CLOCK gives one second chance", CLOCK, []uint64{1, 2, 3, 1, 4, 5, 6, 1}, 3, "mmmHmmmm"},
		// 4 clears 1's bit and evicts 2, leaving the hand at 3; 5 evicts
		// 3 and 6 evicts 4, and the hand never returns to 1.
		{"SIEVE's hand stays", SIEVE, []uint64{1, 2, 3, 1, 4, 5, 6, 1}, 3, "mmmHmmmH"},
		// S's share is 1 entry. 11 moves 1 (used twice) to M and evicts 2
		// into G; 2, 3 and 4 come back from G into M; the one-hit
		// wonders 12..20 then pass through S and leave M alone.
		{"S3FIFO keeps M from one-hit wonders", S3FIFO,
			cat(seq(1, 10), []uint64{1, 1, 11, 2, 1, 3, 4}, seq(12, 20), seq(1, 4)), 10,
			"mmmmmmmmmm" + "HHmmHmm" + "mmmmmmmmm" + "HHHH"},
		{"LRU on the same", LRU,
			cat(seq(1, 10), []uint64{1, 1, 11, 2, 1, 3, 4}, seq(12, 20), seq(1, 4)), 10,
			"mmmmmmmmmm" + "HHmmHmm" + "mmmmmmmmm" + "mmmm"},
		// S's share is 0 below 10 entries, so S is evicted while it holds
		// anything. 3 moves 1 (used twice) to M and evicts 2 into G; 4
		// evicts 3; 1 hits in M; 2, pushed out of G (which holds 2), goes
		// to S.
		{"S3FIFO below 10 entries", S3FIFO, []uint64{1, 2, 1, 2, 1, 3, 4, 1, 2}, 2, "mmHHHmmHm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcomes(tc.ref, tc.keys, tc.capacity); got != tc.want {
				t.Errorf("outcomes %s, want %s", got, tc.want)
			}
		})
	}
}

// TestReferenceBounds: a cache that holds every key misses each once; a
// cache of no entries hits nothing; a loop one longer than the cache
// defeats LRU, FIFO and CLOCK.
func TestReferenceBounds(t *testing.T) {
	keys := Traces(20_000)[0].Keys
	distinct := map[uint64]bool{}
	for _, k := range keys {
		distinct[k] = true
	}
	loop := cat(seq(1, 101), seq(1, 101), seq(1, 101))
	for _, r := range references {
		t.Run(r.name, func(t *testing.T) {
			if got, want := r.ref(keys, len(distinct)), len(keys)-len(distinct); got != want {
				t.Errorf("capacity of every key: %d hits, want %d", got, want)
			}
			if got := r.ref(keys, 0); got != 0 {
				t.Errorf("capacity 0: %d hits", got)
			}
			if got := r.ref(loop, 100); got != 0 && (r.name == "LRU" || r.name == "FIFO" || r.name == "CLOCK") {
				t.Errorf("loop of 101 in 100: %d hits, want 0", got)
			}
		})
	}
}

// TestCLOCKIsFIFOReinsertion checks CLOCK's ring against the other way
// it is written: a FIFO queue whose head, if its bit is set, goes back to
// the tail with the bit cleared instead of being evicted.
func TestCLOCKIsFIFOReinsertion(t *testing.T) {
	reinsertion := func(keys []uint64, capacity int) (hits int) {
		var queue []uint64
		ref := map[uint64]bool{}
		in := map[uint64]bool{}
		for _, k := range keys {
			if in[k] {
				hits++
				ref[k] = true
				continue
			}
			if len(queue) == capacity {
				for ref[queue[0]] {
					ref[queue[0]] = false
					queue = append(queue[1:], queue[0])
				}
				delete(in, queue[0])
				queue = queue[1:]
			}
			queue = append(queue, k)
			in[k] = true
		}
		return hits
	}
	for _, tr := range Traces(50_000) {
		for _, capacity := range []int{1, 10, 100, 1_000} {
			if got, want := CLOCK(tr.Keys, capacity), reinsertion(tr.Keys, capacity); got != want {
				t.Errorf("%s, capacity %d: CLOCK %d hits, FIFO-reinsertion %d", tr.Name, capacity, got, want)
			}
		}
	}
}

// TestReferencesDiffer: on every trace at a capacity that matters, the
// algorithms are told apart, so that a policy cannot match a reference
// by accident.
func TestReferencesDiffer(t *testing.T) {
	for _, tr := range Traces(100_000) {
		hits := map[int]string{}
		for _, r := range references {
			n := r.ref(tr.Keys, 500)
			t.Logf("%s, capacity 500: %s %d", tr.Name, r.name, n)
			hits[n] += r.name + " "
		}
		if len(hits) < 4 {
			t.Errorf("%s: hits by algorithm %v: want at least four different", tr.Name, hits)
		}
	}
}

func TestTraces(t *testing.T) {
	a, b := Traces(30_000), Traces(30_000)
	if len(a) != 3 {
		t.Fatalf("%d traces", len(a))
	}
	for i := range a {
		if len(a[i].Keys) != 30_000 || fmt.Sprint(a[i].Keys) != fmt.Sprint(b[i].Keys) || a[i].Name != b[i].Name {
			t.Errorf("trace %q: %d keys, or differs between calls", a[i].Name, len(a[i].Keys))
		}
	}
	if n := len(Traces(0)[0].Keys) + len(Traces(-1)[2].Keys); n != 0 {
		t.Errorf("Traces(0), Traces(-1): %d keys", n)
	}
}
