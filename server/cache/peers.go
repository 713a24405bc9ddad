package cache

import (
	"context"
	"errors"
	"time"
)

// ErrUnreachable marks a peer call that did not get an answer from the
// peer (connection refused, reset, or no answer within the peer timeout),
// as opposed to the peer's own answer such as [ErrNotFound].
var ErrUnreachable = errors.New("peer unreachable")

// ErrNoQuorum marks a write its owner took but fewer than a majority of
// the key's replicas kept: it was not acknowledged, and may or may not be
// seen later. It is worth retrying.
var ErrNoQuorum = errors.New("not enough replicas kept the write")

// Peers is a node's view of the cluster as a group needs it: who owns a
// key, which nodes replicate it, and whether that view can be trusted.
// Implementations must be safe for concurrent use.
type Peers interface {
	// Owner returns the peer that owns key, or remote false when this node
	// does. The owner is returned even while it is suspect.
	Owner(key string) (p Peer, remote bool)
	// Replicas returns the n distinct nodes that keep key's written
	// records under the current view, owner first; a nil Peer is this
	// node. Fewer come back when the cluster has fewer than n members.
	Replicas(key string, n int) []Peer
	// View returns the current view's epoch, which changes with every
	// ring change, and whether the view is certain: false while this node
	// cannot be sure the others still count it in (its membership lease
	// may have lapsed), so entries it holds may be stale.
	View() View
	// Suspect reports whether p failed to answer a moment ago.
	Suspect(p Peer) bool
	// Unreachable tells the Peers that a call to p failed to reach it, so
	// it can mark p suspect for a while.
	Unreachable(p Peer, err error)
	// Invalidate tells the nodes holders (by ID) to drop their hot copies
	// of key in group. It returns once each has answered or its lease,
	// which ends at until, has run out: after it, none serves the copy.
	Invalidate(ctx context.Context, group, key string, holders []string, until time.Time)
	// Self returns this node's ID.
	Self() string
}

// View is a node's view of the cluster at one moment.
type View struct {
	// Epoch changes with every change of the ring.
	Epoch uint64
	// Certain is false while this node may have been dropped by the
	// others without knowing it.
	Certain bool
	// Settled is false for a short while after the epoch moved: the other
	// nodes may not have seen the same change yet, so an entry checked
	// against the replicas a moment ago may already be stale.
	Settled bool
}

// Record is one written key's versioned state: a value, or a delete's
// tombstone. Replicas keep records; the highest version wins.
type Record struct {
	Key     string
	Value   []byte
	Expires time.Time // zero means never
	Version uint64
	Tomb    bool
}

// Peer is another node.
type Peer interface {
	// ID returns the node's ID.
	ID() string
	// Fetch returns the owner's value of key, loading it there on a miss.
	// holder, when not empty, asks for a hot-copy lease for that node; the
	// lease granted comes back (zero: none).
	Fetch(ctx context.Context, group, key, holder string) (Value, time.Duration, error)
	// Store sets key on the owner.
	Store(ctx context.Context, group, key string, value []byte, ttl time.Duration) error
	// Remove deletes key on the owner.
	Remove(ctx context.Context, group, key string) error
	// Replicate keeps each of rs on the peer unless it holds a newer
	// version of its key.
	Replicate(ctx context.Context, group string, rs ...Record) error
	// Peek returns the peer's record of key, without loading; found is
	// false when it holds none.
	Peek(ctx context.Context, group, key string) (r Record, found bool, err error)
}

// NoPeers is the [Peers] of a node that runs alone: it owns every key.
var NoPeers Peers = noPeers{}

type noPeers struct{}

func (noPeers) Owner(string) (Peer, bool)                                       { return nil, false }
func (noPeers) Replicas(string, int) []Peer                                     { return []Peer{nil} }
func (noPeers) View() View                                                      { return View{Certain: true} }
func (noPeers) Suspect(Peer) bool                                               { return false }
func (noPeers) Unreachable(Peer, error)                                         {}
func (noPeers) Invalidate(context.Context, string, string, []string, time.Time) {}
func (noPeers) Self() string                                                    { return "" }
