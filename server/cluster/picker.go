package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cache"
)

// DefaultSuspectFor is how long a member that could not be reached is
// passed over (its keys loaded locally) before it is tried again.
const DefaultSuspectFor = 2 * time.Second

// Picker is a node's view of the cluster: the ring over the current
// members, which of them are suspect, and a peer for each. It implements
// [cache.Peers]. Update swaps in a new ring atomically; every method is
// safe for concurrent use.
type Picker struct {
	self       string
	client     *PeerClient
	replicas   int
	suspectFor time.Duration

	ring     atomic.Pointer[Ring]
	peers    atomic.Pointer[map[string]*remotePeer]
	suspects sync.Map // member ID -> time.Time until which it is suspect
	changes  atomic.Int64
}

var _ cache.Peers = (*Picker)(nil)

// NewPicker returns a picker for the node self whose ring holds only self
// until the first Update.
func NewPicker(self Member, client *PeerClient, replicas int) *Picker {
	p := &Picker{self: self.ID, client: client, replicas: replicas, suspectFor: DefaultSuspectFor}
	p.Update([]Member{self})
	return p
}

// Update rebuilds the ring from members (which should include this node).
// Readers see the old ring or the new one, never a mix.
func (p *Picker) Update(members []Member) {
	peers := make(map[string]*remotePeer, len(members))
	for _, m := range members {
		if m.ID != p.self {
			peers[m.ID] = &remotePeer{member: m, c: p.client}
		}
	}
	ring := NewRing(members, p.replicas)
	if old := p.ring.Load(); old != nil && old.Equal(ring) {
		return
	}
	p.peers.Store(&peers)
	p.ring.Store(ring)
	p.changes.Add(1)
}

// Ring returns the current ring.
func (p *Picker) Ring() *Ring { return p.ring.Load() }

// Self returns this node's ID.
func (p *Picker) Self() string { return p.self }

// Changes returns how many times the ring has changed.
func (p *Picker) Changes() int64 { return p.changes.Load() }

// Pick implements [cache.Peers].
func (p *Picker) Pick(key string) (cache.Peer, bool) {
	m, ok := p.ring.Load().Owner(key)
	if !ok || m.ID == p.self || p.Suspect(m.ID) {
		return nil, false
	}
	peer, ok := (*p.peers.Load())[m.ID]
	return peer, ok
}

// Unreachable implements [cache.Peers]: the peer is suspect for a while.
func (p *Picker) Unreachable(peer cache.Peer, _ error) {
	if rp, ok := peer.(*remotePeer); ok {
		p.suspects.Store(rp.member.ID, time.Now().Add(p.suspectFor))
	}
}

// Suspect reports whether the member id is being passed over.
func (p *Picker) Suspect(id string) bool {
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

// Invalidate implements [cache.Peers]: it tells every other member, in
// the background, to drop its hot copy of key. Failures are ignored: a hot
// copy lives at most [cache.HotTTL] anyway.
func (p *Picker) Invalidate(group, key string) {
	for id, peer := range *p.peers.Load() {
		if p.Suspect(id) {
			continue
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			req := connect.NewRequest(&distcachev1.InvalidateRequest{Group: group, Key: key})
			_, _ = peer.c.client(peer.member.Addr).Invalidate(ctx, req)
		}()
	}
}
