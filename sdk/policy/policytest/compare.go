package policytest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/distcache/distcache/sdk/policy"
)

// Compare replays keys through a policy made by newPolicy and through
// the reference simulation ref, both of capacity entries, and returns the
// hits of each. The policy is driven by a [Sim] of capacity bytes under
// the host's rules, every key a read ([Sim.Get]) of an entry of cost 1
// whose hash is the key itself, so its capacity counts entries as ref's
// does.
//
// The error is nil when the hits are equal and the policy kept to the
// protocol; otherwise it says by how much they differ, and what the
// policy broke (as [Check] does). A policy that follows ref's algorithm
// exactly makes the same decision on every request, so any difference is
// a bug, or a difference of algorithm worth knowing about: a policy that
// evicts before it inserts, as SIEVE, CLOCK and S3-FIFO are published,
// needs [policy.EvictFirst] to match, since the host announces a newcomer
// before it asks for room.
func Compare(newPolicy func(capacity int64) policy.Policy, ref Reference, keys []uint64, capacity int) (got, want int, err error) {
	return CompareWithin(newPolicy, ref, keys, capacity, 0)
}

// CompareWithin is [Compare] for a policy that approximates ref's
// algorithm: its hits may differ from ref's by up to tolerance times the
// number of requests, so a tolerance of 0.005 allows half a point of hit
// ratio either way.
func CompareWithin(newPolicy func(capacity int64) policy.Policy, ref Reference, keys []uint64, capacity int, tolerance float64) (got, want int, err error) {
	if capacity < 1 {
		return 0, 0, fmt.Errorf("policytest: capacity %d, want at least 1", capacity)
	}
	if !(tolerance >= 0) {
		return 0, 0, fmt.Errorf("policytest: tolerance %v, want a number >= 0", tolerance)
	}
	p := newPolicy(int64(capacity))
	if p == nil {
		return 0, 0, errors.New("policytest: newPolicy returned nil")
	}
	s := NewSim(p, int64(capacity))
	for _, k := range keys {
		s.Get(k, 1)
	}
	s.Flush()
	st := s.Stats()
	got, want = int(st.Hits), ref(keys, capacity)
	var errs []error
	if diff := got - want; math.Abs(float64(diff)) > tolerance*float64(len(keys)) {
		errs = append(errs, fmt.Errorf("policytest: capacity %d, %d requests: the policy hit %d (%.2f%%), the reference %d (%.2f%%): %+d (%+.2f points, tolerance %.2f)",
			capacity, len(keys), got, ratio(got, len(keys)), want, ratio(want, len(keys)), diff, ratio(diff, len(keys)), 100*tolerance))
	}
	if st.Unknown+st.Short+st.Fallbacks > 0 {
		errs = append(errs, fmt.Errorf("policytest: capacity %d: %d victims not held, %d evictions short of need, %d fallback evictions",
			capacity, st.Unknown, st.Short, st.Fallbacks))
	}
	return got, want, errors.Join(errs...)
}

// ratio returns n of total in percent.
func ratio(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

// Trace is a named sequence of keys to compare policies on.
type Trace struct {
	// Name says what the trace is, such as "zipf".
	Name string
	// Keys are the requests in order; [Compare] uses each as a hash.
	Keys []uint64
}

// Traces returns three synthetic traces of n keys each, the same on every
// call, that tell eviction algorithms apart at capacities from about 100
// to 5,000 entries:
//
//   - "zipf": keys drawn from 100,000 with a Zipf distribution of exponent
//     1.1, where frequency matters;
//   - "loop": keys cycling through 0 to 1,999, the loop that defeats LRU
//     at any capacity below 2,000, with one request in 20 drawn from a
//     small hot set instead, so recency and frequency both count;
//   - "scan+zipf": the Zipf keys, interrupted every 10,000 requests by a
//     scan of 2,000 keys never seen before, which a scan-resistant
//     algorithm keeps from flushing the popular keys.
func Traces(n int) []Trace {
	n = max(n, 0)
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(r, 1.1, 1, 99_999)
	z := make([]uint64, n)
	for i := range z {
		z[i] = zipf.Uint64()
	}

	loop := make([]uint64, n)
	next := uint64(0)
	for i := range loop {
		if r.IntN(20) == 0 {
			loop[i] = 1<<32 + r.Uint64N(50)
			continue
		}
		loop[i] = next
		next = (next + 1) % 2_000
	}

	scan := make([]uint64, 0, n)
	fresh := uint64(1 << 40)
	for i := 0; len(scan) < n; i++ {
		if i > 0 && i%10_000 == 0 {
			for j := 0; j < 2_000 && len(scan) < n; j++ {
				scan = append(scan, fresh)
				fresh++
			}
		}
		if len(scan) < n {
			scan = append(scan, zipf.Uint64())
		}
	}
	return []Trace{{"zipf", z}, {"loop", loop}, {"scan+zipf", scan}}
}
