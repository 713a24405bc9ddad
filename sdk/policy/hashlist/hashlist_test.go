package hashlist

import (
	"slices"
	"testing"
)

// hashes returns l's hashes from newest to oldest, checking the links
// both ways and the totals.
func hashes(t *testing.T, a *Arena, l *List) []uint64 {
	t.Helper()
	var out []uint64
	var cost int64
	prev := Nil
	for r := l.Newest(); r != Nil; r = a.Older(r) {
		if a.Newer(r) != prev {
			t.Fatalf("node %d: newer link %d, want %d", a.Hash(r), a.Newer(r), prev)
		}
		out = append(out, a.Hash(r))
		cost += a.Cost(r)
		prev = r
	}
	if l.Oldest() != prev {
		t.Fatalf("oldest %d, want %d", l.Oldest(), prev)
	}
	if l.Len() != len(out) || l.Cost() != cost {
		t.Fatalf("Len %d Cost %d, want %d and %d", l.Len(), l.Cost(), len(out), cost)
	}
	return out
}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  func(a *Arena, l *List, refs []Ref)
		want []uint64
	}{
		{"empty", func(*Arena, *List, []Ref) {}, nil},
		{"push newest", func(a *Arena, l *List, r []Ref) {
			l.PushNewest(a, r[0])
			l.PushNewest(a, r[1])
			l.PushNewest(a, r[2])
		}, []uint64{12, 11, 10}},
		{"push oldest", func(a *Arena, l *List, r []Ref) {
			l.PushOldest(a, r[0])
			l.PushOldest(a, r[1])
			l.PushNewest(a, r[2])
		}, []uint64{12, 10, 11}},
		{"remove middle, ends", func(a *Arena, l *List, r []Ref) {
			for _, x := range r {
				l.PushNewest(a, x)
			}
			l.Remove(a, r[2])
			l.Remove(a, r[0])
			l.Remove(a, r[3])
		}, []uint64{11}},
		{"move to newest", func(a *Arena, l *List, r []Ref) {
			for _, x := range r {
				l.PushNewest(a, x)
			}
			l.MoveToNewest(a, r[0])
			l.MoveToNewest(a, r[2])
			l.MoveToNewest(a, r[2])
		}, []uint64{12, 10, 13, 11}},
		{"set cost", func(a *Arena, l *List, r []Ref) {
			l.PushNewest(a, r[0])
			l.SetCost(a, r[0], 100)
		}, []uint64{10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a Arena
			var l List
			var refs []Ref
			for h := uint64(10); h < 14; h++ {
				refs = append(refs, a.Add(h, int64(h), 0))
			}
			tc.ops(&a, &l, refs)
			if got := hashes(t, &a, &l); !slices.Equal(got, tc.want) {
				t.Errorf("list %v, want %v", got, tc.want)
			}
		})
	}
}

func TestArenaReusesDeleted(t *testing.T) {
	a := NewArena(4)
	r1 := a.Add(1, 10, 7)
	r2 := a.Add(2, 20, 0)
	if r, ok := a.Lookup(1); !ok || r != r1 || a.Tag(r) != 7 || a.Cost(r) != 10 {
		t.Fatalf("Lookup(1) = %d, %v", r, ok)
	}
	a.Delete(r1)
	if _, ok := a.Lookup(1); ok || a.Len() != 1 {
		t.Fatalf("1 still indexed after Delete, Len %d", a.Len())
	}
	r3 := a.Add(3, 30, 0)
	if r3 != r1 || a.Tag(r3) != 0 || a.Newer(r3) != Nil || a.Older(r3) != Nil {
		t.Errorf("Add after Delete made %d (tag %d), want reused %d, clean", r3, a.Tag(r3), r1)
	}
	a.SetTag(r2, 5)
	if a.Tag(r2) != 5 || a.Hash(r2) != 2 {
		t.Errorf("node 2: tag %d hash %d", a.Tag(r2), a.Hash(r2))
	}
}
