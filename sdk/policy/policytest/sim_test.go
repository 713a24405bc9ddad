package policytest

import (
	"slices"
	"strings"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
)

// fifo is a minimal correct policy for exercising the Sim.
type fifo struct {
	order []uint64
	costs map[uint64]int64
	log   []policy.Event
}

func newFIFO() *fifo { return &fifo{costs: map[uint64]int64{}} }

func (f *fifo) Apply(events []policy.Event) {
	f.log = append(f.log, events...)
	for _, ev := range events {
		_, known := f.costs[ev.Hash]
		switch {
		case ev.Op == policy.OpRemove && known:
			delete(f.costs, ev.Hash)
			f.order = slices.DeleteFunc(f.order, func(h uint64) bool { return h == ev.Hash })
		case (ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate) && !known:
			f.order = append(f.order, ev.Hash)
			f.costs[ev.Hash] = ev.Cost
		case ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate:
			f.costs[ev.Hash] = ev.Cost
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

// stubborn names nothing.
type stubborn struct{}

func (stubborn) Apply([]policy.Event)                 {}
func (stubborn) Evict(_ int64, dst []uint64) []uint64 { return dst }

// liar names hashes the cache never held, and too few.
type liar struct{ fifo }

func (l *liar) Evict(need int64, dst []uint64) []uint64 {
	dst = append(dst, 1<<62)
	return l.fifo.Evict(need/2, dst)
}

func TestSim(t *testing.T) {
	f := newFIFO()
	s := NewSim(f, 10)
	for _, tc := range []struct {
		name string
		do   func() bool
		want bool
	}{
		{"miss", func() bool { return s.Get(1, 4) }, false},
		{"hit", func() bool { return s.Get(1, 4) }, true},
		{"miss fits", func() bool { return s.Get(2, 4) }, false},
		{"miss evicts oldest", func() bool { return s.Get(3, 4) }, false},
		{"evicted", func() bool { return s.Contains(1) }, false},
		{"too large", func() bool { return s.Set(4, 11) }, false},
		{"update in place", func() bool { return s.Set(2, 6) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.do(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if s.Bytes() > 10 {
				t.Errorf("%d bytes over capacity 10", s.Bytes())
			}
		})
	}
	s.Flush()
	wantOps := []policy.Op{policy.OpInsert, policy.OpAccess, policy.OpInsert, policy.OpInsert, policy.OpUpdate}
	var ops []policy.Op
	for _, ev := range f.log {
		ops = append(ops, ev.Op)
	}
	if !slices.Equal(ops, wantOps) {
		t.Errorf("policy heard %v, want %v", ops, wantOps)
	}
	if st := s.Stats(); st.Hits != 1 || st.Misses != 3 || st.Evictions != 1 || st.Fallbacks != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       func() policy.Policy
		wantErr string
	}{
		{"correct", func() policy.Policy { return newFIFO() }, ""},
		{"names nothing", func() policy.Policy { return stubborn{} }, "fallback evictions"},
		{"names strangers, too few", func() policy.Policy { return &liar{*newFIFO()} }, "victims not held"},
		{"nil", func() policy.Policy { return nil }, "returned nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(func(int64) policy.Policy { return tc.p() })
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
