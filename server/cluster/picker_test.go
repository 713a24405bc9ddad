package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/peer"
)

func newTestPicker(t *testing.T, self string, ids ...string) *Picker {
	t.Helper()
	c, err := peer.NewClient(peer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// Addresses nobody listens on: calls fail at once.
	members := []Member{{ID: self, Addr: "127.0.0.1:1"}}
	for _, id := range ids {
		members = append(members, Member{ID: id, Addr: "127.0.0.1:1"})
	}
	p := NewPicker(members[0], c, 0)
	p.Update(members)
	return p
}

// TestPickerOwnerAndReplicas checks that the picker agrees with the ring:
// the owner (nil for this node), then distinct successors.
func TestPickerOwnerAndReplicas(t *testing.T) {
	p := newTestPicker(t, "a", "b", "c")
	mine := 0
	for i := range 1000 {
		key := fmt.Sprintf("k%d", i)
		want, _ := p.Ring().Owner(key)
		owner, remote := p.Owner(key)
		if remote != (want.ID != "a") || (remote && owner.ID() != want.ID) {
			t.Fatalf("Owner(%s) = %v, %v; ring says %s", key, owner, remote, want.ID)
		}
		reps := p.Replicas(key, 2)
		if len(reps) != 2 {
			t.Fatalf("Replicas(%s, 2) = %d peers", key, len(reps))
		}
		if (reps[0] == nil) != !remote {
			t.Fatalf("Replicas(%s)[0] is not the owner", key)
		}
		if reps[0] != nil && reps[1] != nil && reps[0].ID() == reps[1].ID() {
			t.Fatalf("Replicas(%s) lists %s twice", key, reps[0].ID())
		}
		if !remote {
			mine++
		}
	}
	if mine == 0 || mine == 1000 {
		t.Fatalf("this node owns %d of 1000 keys", mine)
	}
	if got := p.Replicas("k", 5); len(got) != 3 {
		t.Fatalf("Replicas(k, 5) on 3 members = %d", len(got))
	}
}

// TestPickerViewEpoch checks the view's epoch: it moves on every ring
// change and once when the view turns uncertain, and stays put otherwise.
func TestPickerViewEpoch(t *testing.T) {
	p := newTestPicker(t, "a", "b")
	var certain atomic.Bool
	certain.Store(true)
	p.SetCertainty(certain.Load)
	v0 := p.View()
	if !v0.Certain || p.View().Epoch != v0.Epoch {
		t.Fatalf("a steady view changed: %+v then %+v", v0, p.View())
	}
	p.Update([]Member{{ID: "a", Addr: "x:1"}, {ID: "b", Addr: "x:1"}, {ID: "c", Addr: "x:1"}})
	v1 := p.View()
	if v1.Epoch == v0.Epoch {
		t.Fatal("a ring change did not move the epoch")
	}
	certain.Store(false)
	v2 := p.View()
	if v2.Certain || v2.Epoch == v1.Epoch {
		t.Fatalf("turning uncertain: %+v after %+v", v2, v1)
	}
	if v3 := p.View(); v3.Epoch != v2.Epoch {
		t.Fatal("the epoch moved again while the view stayed uncertain")
	}
	certain.Store(true)
	v4 := p.View()
	if !v4.Certain || v4.Epoch == v2.Epoch {
		t.Fatalf("certain again: %+v; the epoch must move again (it was %d while uncertain)", v4, v2.Epoch)
	}
	if v4.Settled {
		t.Fatal("settled right after the epoch moved")
	}
	if v5 := p.View(); v5.Epoch != v4.Epoch {
		t.Fatal("the epoch moved again while the view stayed certain")
	}
}

// TestPickerSuspect checks that an unreachable peer is suspect for a
// while and that a member that leaves is forgotten.
func TestPickerSuspect(t *testing.T) {
	p := newTestPicker(t, "a", "b")
	var b cache.Peer
	for i := 0; b == nil; i++ {
		if o, remote := p.Owner(fmt.Sprintf("k%d", i)); remote {
			b = o
		}
	}
	if p.Suspect(b) {
		t.Fatal("suspect before any failure")
	}
	p.Unreachable(b, nil)
	if !p.Suspect(b) || !p.SuspectID("b") {
		t.Fatal("not suspect after a failure")
	}
	if _, ok := p.Pick("any"); ok && p.Ring().Len() == 1 {
		t.Fatal("Pick returned a peer of a one-member ring")
	}
	p.Update([]Member{{ID: "a", Addr: "x:1"}})
	if p.SuspectID("b") {
		t.Fatal("a member that left is still suspect")
	}
}

// TestPickerForgetsClientsOfMembersThatLeft checks that the peer client
// keeps no per-address client for members no longer in the ring.
func TestPickerForgetsClientsOfMembersThatLeft(t *testing.T) {
	p := newTestPicker(t, "a")
	for i := range 50 {
		addr := fmt.Sprintf("127.0.0.1:%d", 2+i)
		p.Update([]Member{{ID: "a", Addr: "127.0.0.1:1"}, {ID: fmt.Sprintf("n%d", i), Addr: addr}})
		peer, _ := p.Owner(fmt.Sprintf("k%d", i))
		for j := 0; peer == nil; j++ {
			peer, _ = p.Owner(fmt.Sprintf("k%d-%d", i, j))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no call goes out; the client for the address is made
		_, _, _ = peer.Fetch(ctx, "g", "k", "")
	}
	if n := p.client.Clients(); n > 1 {
		t.Fatalf("the peer client holds %d clients after 50 members came and went, want at most 1", n)
	}
}

// TestInvalidateWaitsOutUnansweredLeases checks the promise hot copies
// rest on: Invalidate does not return before every holder has either
// dropped its copy or seen its lease run out.
func TestInvalidateWaitsOutUnansweredLeases(t *testing.T) {
	p := newTestPicker(t, "a", "b")
	until := time.Now().Add(150 * time.Millisecond)
	// "b" refuses connections; "gone" is no member at all.
	p.Invalidate(context.Background(), "g", "k", []string{"b", "gone"}, until)
	if now := time.Now(); now.Before(until) {
		t.Fatalf("Invalidate returned %v before the leases ran out", until.Sub(now))
	}
	// With no holders it returns at once: nothing to wait for.
	done := make(chan struct{})
	go func() {
		p.Invalidate(context.Background(), "g", "k", nil, time.Now().Add(time.Hour))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Invalidate with no holders blocked")
	}
}
