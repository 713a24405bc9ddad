package policytest_test

import (
	"fmt"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

// fifo is a first-in, first-out policy, written plainly.
type fifo struct {
	order []uint64
	costs map[uint64]int64
}

func (f *fifo) Apply(events []policy.Event) {
	for _, ev := range events {
		_, known := f.costs[ev.Hash]
		switch {
		case (ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate) && !known:
			f.order = append(f.order, ev.Hash)
			f.costs[ev.Hash] = ev.Cost
		case ev.Op == policy.OpRemove && known:
			delete(f.costs, ev.Hash)
			for i, h := range f.order {
				if h == ev.Hash {
					f.order = append(f.order[:i], f.order[i+1:]...)
					break
				}
			}
		}
	}
}

func (f *fifo) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && len(f.order) > 0 {
		h := f.order[0]
		f.order = f.order[1:]
		need -= f.costs[h]
		delete(f.costs, h)
		dst = append(dst, h)
	}
	return dst
}

// A policy that implements an algorithm exactly makes the reference's
// decisions on every request; against another algorithm, Compare says by
// how much the two differ.
func ExampleCompare() {
	newFIFO := func(capacity int64) policy.Policy { return &fifo{costs: map[uint64]int64{}} }
	zipf := policytest.Traces(10_000)[0].Keys

	got, want, err := policytest.Compare(newFIFO, policytest.FIFO, zipf, 100)
	fmt.Println(got, want, err)

	_, _, err = policytest.Compare(newFIFO, policytest.SIEVE, zipf, 100)
	fmt.Println(err)
	// Output:
	// 3981 3981 <nil>
	// policytest: capacity 100, 10000 requests: the policy hit 3981 (39.81%), the reference 5344 (53.44%): -1363 (-13.63 points, tolerance 0.00)
}
