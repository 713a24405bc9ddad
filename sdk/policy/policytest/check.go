package policytest

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/distcache/distcache/sdk/policy"
)

// Check drives policies made by newPolicy through random workloads of
// reads, writes that change an entry's cost, and deletes, at several
// capacities, and returns an error describing every way a policy broke
// the protocol: naming victims the cache does not hold, freeing less than
// asked, or naming nothing so that the cache had to evict by itself. A
// correct policy returns nil. It is deterministic.
func Check(newPolicy func(capacity int64) policy.Policy) error {
	var errs []error
	for _, capacity := range []int64{1_000, 64_000, 1 << 20} {
		p := newPolicy(capacity)
		if p == nil {
			return errors.New("policytest: newPolicy returned nil")
		}
		st := run(NewSim(p, capacity), capacity)
		if st.Unknown+st.Short+st.Fallbacks > 0 {
			errs = append(errs, fmt.Errorf("capacity %d: %d victims not held, %d evictions short of need, %d fallback evictions",
				capacity, st.Unknown, st.Short, st.Fallbacks))
		}
	}
	return errors.Join(errs...)
}

// run replays up to 100,000 random requests over keys whose popularity is
// skewed, with costs from 64 to 1,024 bytes. It stops early once the
// policy broke the protocol.
func run(s *Sim, capacity int64) Stats {
	r := rand.New(rand.NewPCG(uint64(capacity), 7))
	zipf := rand.NewZipf(r, 1.2, 1, 4_999)
	cost := func() int64 { return 64 + r.Int64N(961) }
	for i := range 100_000 {
		if st := s.Stats(); i%1000 == 0 && st.Unknown+st.Short+st.Fallbacks > 0 {
			break
		}
		h := zipf.Uint64()*0x9e3779b97f4a7c15 + 1
		switch n := r.IntN(100); {
		case n < 85:
			s.Get(h, cost())
		case n < 95:
			s.Set(h, cost())
		default:
			s.Remove(h)
		}
	}
	return s.Stats()
}
