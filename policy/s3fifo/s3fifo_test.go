package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

func ins(h uint64, cost int64) policy.Event {
	return policy.Event{Op: policy.OpInsert, Hash: h, Cost: cost}
}
func upd(h uint64, cost int64) policy.Event {
	return policy.Event{Op: policy.OpUpdate, Hash: h, Cost: cost}
}
func acc(h uint64) policy.Event { return policy.Event{Op: policy.OpAccess, Hash: h} }
func rem(h uint64) policy.Event { return policy.Event{Op: policy.OpRemove, Hash: h} }

// accs returns n accesses of h.
func accs(h uint64, n int) []policy.Event {
	var out []policy.Event
	for range n {
		out = append(out, acc(h))
	}
	return out
}

// step is a batch of events, then an Evict(need) naming want (none if
// need is 0).
type step struct {
	events []policy.Event
	need   int64
	want   []uint64
}

// queueOf returns "S", "M" or "G" for the queue that holds h, or "".
func queueOf(p *S3FIFO, h uint64) string {
	r, ok := p.a.Lookup(h)
	if !ok {
		return ""
	}
	return [...]string{"S", "M", "G"}[p.a.Tag(r)&queueMask]
}

// toMain is the events and evictions that leave 1 and 2 in M (2 at the
// head) with frequency 0, S and G empty, in an S3FIFO of capacity 10:
// each goes through S into G, and comes back from G into M.
var toMain = []step{
	{[]policy.Event{ins(1, 1)}, 1, []uint64{1}},
	{[]policy.Event{ins(1, 1), ins(2, 1)}, 1, []uint64{2}},
	{[]policy.Event{ins(2, 1)}, 0, nil},
}

func TestS3FIFOEvict(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int64
		steps    []step
		where    map[uint64]string // queues after the steps
	}{
		{"empty", 10, []step{{nil, 1, nil}}, nil},
		{"newcomers leave S into G", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, 1, []uint64{1}},
		}, map[uint64]string{1: "G", 2: "S", 3: "S"}},
		{"a ghost comes back into M", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1)}, 1, []uint64{1}},
			{[]policy.Event{ins(1, 1)}, 0, nil},
		}, map[uint64]string{1: "M", 2: "S"}},
		{"used more than once in S moves to M", 10, []step{
			{append([]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, accs(1, 2)...), 1, []uint64{2}},
		}, map[uint64]string{1: "M", 2: "G", 3: "S"}},
		{"used once in S is evicted", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), acc(1)}, 1, []uint64{1}},
		}, map[uint64]string{1: "G", 2: "S"}},
		{"M puts a used tail back", 10, append(slices.Clone(toMain),
			step{[]policy.Event{acc(1)}, 1, []uint64{2}},
			step{nil, 1, []uint64{1}},
		), nil},
		{"frequency capped at 3", 10, append(slices.Clone(toMain),
			// Uncapped, 1 would outlast 2; capped, both have 3, and 1 is
			// the tail.
			step{append(accs(1, 5), accs(2, 3)...), 1, []uint64{1}},
		), map[uint64]string{2: "M"}},
		{"moving to a full M evicts from M, then S goes on", 100, []step{
			{[]policy.Event{ins(1, 85)}, 1, []uint64{1}},
			{[]policy.Event{ins(1, 85)}, 0, nil}, // M holds 85 of its 90
			// S holds 16 of its 10: 2 moves to M, which then holds 91 and
			// evicts 1, and S goes on until 3 goes to G.
			{[]policy.Event{ins(2, 6), ins(3, 5), ins(4, 5), acc(2), acc(2)}, 1, []uint64{1, 3}},
		}, map[uint64]string{1: "", 2: "M", 3: "G", 4: "S"}},
		{"S below its share: evict from M", 100, []step{
			{[]policy.Event{ins(1, 10)}, 1, []uint64{1}},
			{[]policy.Event{ins(1, 10), ins(2, 5)}, 1, []uint64{1}}, // S holds 5 of its 10
		}, map[uint64]string{1: "", 2: "S"}},
		{"ghosts bounded by M's share", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), ins(4, 1), ins(5, 1), ins(6, 1), ins(7, 1), ins(8, 1), ins(9, 1), ins(10, 1)},
				10, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		}, map[uint64]string{1: "", 2: "G", 10: "G"}},
		{"update is a use", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), upd(1, 1), upd(1, 1)}, 1, []uint64{2}},
		}, map[uint64]string{1: "M"}},
		{"unknown access ignored", 10, []step{
			{[]policy.Event{ins(1, 1), acc(9)}, 1, []uint64{1}},
		}, map[uint64]string{9: ""}},
		{"access of a ghost ignored", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1)}, 1, []uint64{1}},
			{[]policy.Event{acc(1), acc(1), acc(2)}, 0, nil},
		}, map[uint64]string{1: "G"}},
		{"remove forgets", 10, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), rem(1), rem(9)}, 5, []uint64{2}},
		}, map[uint64]string{1: "", 2: "G"}},
		{"costs add up to need", 1000, []step{
			{[]policy.Event{ins(1, 100), ins(2, 50), ins(3, 10)}, 120, []uint64{1, 2}},
		}, nil},
		{"update changes cost", 1000, []step{
			// 1 now frees 10, not 100; S holds 60 of its 100, M nothing.
			{[]policy.Event{ins(1, 100), ins(2, 50), upd(1, 10)}, 60, []uint64{1, 2}},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewS3FIFO(tc.capacity)
			for i, s := range tc.steps {
				p.Apply(s.events)
				if s.need == 0 {
					continue
				}
				if got := p.Evict(s.need, nil); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: victims %v, want %v", i, got, s.want)
				}
			}
			for h, want := range tc.where {
				if got := queueOf(p, h); got != want {
					t.Errorf("%d in %q, want %q", h, got, want)
				}
			}
			s, m, g := p.Sizes()
			if s < 0 || m < 0 || g > p.mainShare {
				t.Errorf("sizes S %d, M %d, G %d (G's bound %d)", s, m, g, p.mainShare)
			}
		})
	}
}

func TestS3FIFOProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// TestS3FIFOMatchesPaper: registered as main.go does, behind EvictFirst,
// S3FIFO makes the decisions of the paper's Algorithm 1
// (policytest.S3FIFO) hit for hit.
func TestS3FIFOMatchesPaper(t *testing.T) {
	for _, tr := range policytest.Traces(100_000) {
		for _, capacity := range []int{1, 9, 95, 1_000, 5_000} {
			t.Run(fmt.Sprintf("%s/capacity=%d", tr.Name, capacity), func(t *testing.T) {
				got, _, err := policytest.Compare(policy.New, policytest.S3FIFO, tr.Keys, capacity)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("hit ratio %.4f", float64(got)/float64(len(tr.Keys)))
			})
		}
	}
}

// TestS3FIFONeedsEvictFirst documents why main.go wraps S3FIFO: without
// policy.EvictFirst, the newcomer is already in S when the host asks for
// room, so S reaches its share one entry early and a newcomer can be its
// own victim, and the natural code departs from the paper.
func TestS3FIFONeedsEvictFirst(t *testing.T) {
	keys := policytest.Traces(100_000)[0].Keys // zipf
	if _, _, err := policytest.Compare(policy.New, policytest.S3FIFO, keys, 100); err != nil {
		t.Fatalf("wrapped: %v", err)
	}
	unwrapped := func(capacity int64) policy.Policy { return NewS3FIFO(capacity) }
	got, want, err := policytest.Compare(unwrapped, policytest.S3FIFO, keys, 100)
	t.Logf("unwrapped: %d hits, the paper's %d", got, want)
	if err == nil {
		t.Error("S3FIFO without EvictFirst matched the paper: is EvictFirst still needed?")
	}
}

// TestS3FIFOWeighsBytes: with every entry of cost 64 and a capacity of
// 64 × c bytes, the hits are those of c entries of cost 1 (c a multiple
// of 10, so that S's share divides evenly).
func TestS3FIFOWeighsBytes(t *testing.T) {
	keys := policytest.Traces(100_000)[2].Keys
	for _, c := range []int64{100, 1_000} {
		hits := func(cost int64) uint64 {
			s := policytest.NewSim(policy.New(c*cost), c*cost)
			for _, k := range keys {
				s.Get(k, cost)
			}
			return s.Stats().Hits
		}
		if one, big := hits(1), hits(64); one != big {
			t.Errorf("capacity %d entries: %d hits at cost 1, %d at cost 64", c, one, big)
		}
	}
}
