package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/peer"
)

// SettleTime is how long after its epoch moves a view is not settled (see
// [cache.View]): about ten times how long a membership change takes to
// reach every node (1-25 ms measured). Meanwhile owners check every entry
// against its replicas before serving it.
const SettleTime = 250 * time.Millisecond

// DefaultSuspectFor is how long a member that could not be reached is
// passed over (reads go to its replicas, writes it owns fail at once)
// before it is tried again.
const DefaultSuspectFor = 2 * time.Second

// Picker is a node's view of the cluster: the ring over the current
// members, which of them are suspect, and a peer for each. It implements
// [cache.Peers]. Update swaps in a new ring atomically; every method is
// safe for concurrent use.
type Picker struct {
	self       string
	client     *peer.Client
	replicas   int
	suspectFor time.Duration

	ring      atomic.Pointer[Ring]
	peers     atomic.Pointer[map[string]*peer.Remote]
	suspects  sync.Map // member ID -> time.Time until which it is suspect
	changes   atomic.Int64
	epoch     atomic.Uint64
	movedAt   atomic.Int64 // when the epoch last moved, in ns since born
	born      time.Time
	certain   atomic.Pointer[func() bool]
	uncertain atomic.Bool // the last View was uncertain
	onChange  atomic.Pointer[func()]
}

var _ cache.Peers = (*Picker)(nil)

// NewPicker returns a picker for the node self whose ring holds only self
// until the first Update.
func NewPicker(self Member, client *peer.Client, replicas int) *Picker {
	p := &Picker{self: self.ID, client: client, replicas: replicas, suspectFor: DefaultSuspectFor, born: time.Now()}
	p.Update([]Member{self})
	return p
}

// SetCertainty makes fn say whether the view can be trusted (see
// [cache.View]); without it, the view is always certain.
func (p *Picker) SetCertainty(fn func() bool) { p.certain.Store(&fn) }

// OnChange makes fn run after every ring change, on the goroutine that
// called Update.
func (p *Picker) OnChange(fn func()) { p.onChange.Store(&fn) }

// Update rebuilds the ring from members (which should include this node).
// Readers see the old ring or the new one, never a mix.
func (p *Picker) Update(members []Member) {
	peers := make(map[string]*peer.Remote, len(members))
	for _, m := range members {
		if m.ID != p.self {
			peers[m.ID] = peer.NewRemote(m, p.client)
		}
	}
	ring := NewRing(members, p.replicas)
	if old := p.ring.Load(); old != nil && old.Equal(ring) {
		return
	}
	p.peers.Store(&peers)
	p.ring.Store(ring)
	p.moveEpoch()
	p.changes.Add(1)
	// Forget the clients and suspicions of members that left.
	addrs := make(map[string]bool, len(members))
	for _, m := range members {
		addrs[m.Addr] = true
	}
	p.client.Retain(addrs)
	p.suspects.Range(func(id, _ any) bool {
		if _, ok := peers[id.(string)]; !ok {
			p.suspects.Delete(id)
		}
		return true
	})
	if fn := p.onChange.Load(); fn != nil {
		(*fn)()
	}
}

// Ring returns the current ring.
func (p *Picker) Ring() *Ring { return p.ring.Load() }

// Self returns this node's ID.
func (p *Picker) Self() string { return p.self }

// Changes returns how many times the ring has changed.
func (p *Picker) Changes() int64 { return p.changes.Load() }

// Owner implements [cache.Peers].
func (p *Picker) Owner(key string) (cache.Peer, bool) {
	m, ok := p.ring.Load().Owner(key)
	if !ok || m.ID == p.self {
		return nil, false
	}
	peer, ok := (*p.peers.Load())[m.ID]
	if !ok {
		return nil, false
	}
	return peer, true
}

// Pick returns the owner of key when it is another member that is not
// suspect. Benchmarks and tools use it; groups use [Picker.Owner].
func (p *Picker) Pick(key string) (cache.Peer, bool) {
	peer, remote := p.Owner(key)
	if !remote || p.Suspect(peer) {
		return nil, false
	}
	return peer, true
}

// Replicas implements [cache.Peers].
func (p *Picker) Replicas(key string, n int) []cache.Peer {
	ms := p.ring.Load().Successors(key, n)
	peers := *p.peers.Load()
	out := make([]cache.Peer, 0, len(ms))
	for _, m := range ms {
		if m.ID == p.self {
			out = append(out, nil)
		} else if peer, ok := peers[m.ID]; ok {
			out = append(out, peer)
		}
	}
	return out
}

// moveEpoch starts a new epoch.
func (p *Picker) moveEpoch() {
	p.movedAt.Store(int64(time.Since(p.born)))
	p.epoch.Add(1)
}

// View implements [cache.Peers]. The epoch also moves when the view turns
// uncertain, and again when it turns certain: entries checked while this
// node was uncertain were checked against replicas the others may no
// longer use, and the others may not yet count this node in again.
func (p *Picker) View() cache.View {
	certain := true
	if fn := p.certain.Load(); fn != nil {
		certain = (*fn)()
	}
	if !certain {
		if p.uncertain.CompareAndSwap(false, true) {
			p.moveEpoch()
		}
	} else if p.uncertain.Load() && p.uncertain.CompareAndSwap(true, false) {
		p.moveEpoch()
	}
	settled := time.Since(p.born)-time.Duration(p.movedAt.Load()) >= SettleTime
	return cache.View{Epoch: p.epoch.Load(), Certain: certain, Settled: settled}
}

// Unreachable implements [cache.Peers]: the peer is suspect for a while.
func (p *Picker) Unreachable(peer cache.Peer, _ error) {
	if peer != nil {
		p.suspects.Store(peer.ID(), time.Now().Add(p.suspectFor))
	}
}

// Suspect implements [cache.Peers].
func (p *Picker) Suspect(peer cache.Peer) bool {
	if peer == nil {
		return false
	}
	return p.SuspectID(peer.ID())
}

// SuspectID reports whether the member id is being passed over.
func (p *Picker) SuspectID(id string) bool {
	until, ok := p.suspects.Load(id)
	if !ok {
		return false
	}
	if time.Now().After(until.(time.Time)) {
		p.suspects.CompareAndDelete(id, until)
		return false
	}
	return true
}

// Invalidate implements [cache.Peers]: it asks every holder at once to drop
// its hot copy, and returns when each has answered or, for one that does
// not, when its lease has run out.
func (p *Picker) Invalidate(ctx context.Context, group, key string, holders []string, until time.Time) {
	peers := *p.peers.Load()
	var wg sync.WaitGroup
	for _, id := range holders {
		// A holder that left the ring may still hold its lease: wait it
		// out.
		holder, ok := peers[id]
		wg.Go(func() {
			if ok {
				cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), until)
				defer cancel()
				if holder.Invalidate(cctx, group, key) == nil {
					return
				}
			}
			// Not answered: wait out the lease.
			if d := time.Until(until); d > 0 {
				t := time.NewTimer(d)
				defer t.Stop()
				<-t.C
			}
		})
	}
	wg.Wait()
}
