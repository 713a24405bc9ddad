package cache

import (
	"context"
	"errors"
	"time"
)

// ErrUnreachable marks a peer call that did not get an answer from the
// owner (connection refused, timeout), as opposed to the owner's own
// answer such as [ErrNotFound]. A group that cannot reach a key's owner
// loads the key itself.
var ErrUnreachable = errors.New("peer unreachable")

// Peers finds the owner of a key among the other nodes. Implementations
// must be safe for concurrent use.
type Peers interface {
	// Pick returns the peer that owns key, or false when this node owns it
	// or should act as its owner (the owner is suspect).
	Pick(key string) (Peer, bool)
	// Unreachable tells the Peers that a call to p failed to reach it, so
	// it can mark p suspect for a while.
	Unreachable(p Peer, err error)
	// Invalidate tells every other node to drop its hot copy of key in
	// group. It must not block.
	Invalidate(group, key string)
}

// Peer is another node, the owner of some keys.
type Peer interface {
	// Fetch returns the owner's value of key, loading it there on a miss.
	Fetch(ctx context.Context, group, key string) (Value, error)
	// Store sets key on the owner.
	Store(ctx context.Context, group, key string, value []byte, ttl time.Duration) error
	// Remove deletes key on the owner.
	Remove(ctx context.Context, group, key string) error
}

// NoPeers is the [Peers] of a node that runs alone: it owns every key.
var NoPeers Peers = noPeers{}

type noPeers struct{}

func (noPeers) Pick(string) (Peer, bool)  { return nil, false }
func (noPeers) Unreachable(Peer, error)   {}
func (noPeers) Invalidate(string, string) {}
