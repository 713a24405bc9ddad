package policy_test

import (
	"fmt"

	"github.com/distcache/distcache/sdk/policy"
)

// newest evicts the most recent insert first (a toy policy).
type newest struct{ stack []policy.Event }

func (p *newest) Apply(events []policy.Event) {
	for _, ev := range events {
		if ev.Op == policy.OpInsert {
			p.stack = append(p.stack, ev)
		}
	}
}

func (p *newest) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && len(p.stack) > 0 {
		ev := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		dst = append(dst, ev.Hash)
		need -= ev.Cost
	}
	return dst
}

// A plugin registers its policy from an init func; natively, New returns
// it for tests.
func ExampleRegister() {
	policy.Register(func(capacity int64) policy.Policy { return &newest{} })
	defer policy.Register(nil)

	p := policy.New(1 << 20)
	p.Apply([]policy.Event{
		{Op: policy.OpInsert, Hash: 1, Cost: 100},
		{Op: policy.OpInsert, Hash: 2, Cost: 100},
	})
	fmt.Println(p.Evict(50, nil))
	// Output: [2]
}
