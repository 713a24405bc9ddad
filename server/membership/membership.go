// Package membership tells a node who is in the cluster: just itself
// ([Alone]), a fixed list ([Static]), or the members registered in etcd
// under leases ([Etcd]). It knows nothing of the ring built from them.
package membership

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/distcache/distcache/sdk/client/ring"
)

// Member is one node of the cluster; see [ring.Member].
type Member = ring.Member

// Membership tells a node who is in the cluster. The implementations are
// [Alone] (just this node, the default), [Static] (a fixed list) and [Etcd]
// (leases in etcd). All of them are safe for concurrent use.
type Membership interface {
	// Watch calls fn with the current members (sorted by ID, including this
	// node) at once and then after every change, until ctx is done or the
	// Membership is closed. fn is never called concurrently by one Watch
	// call, and never with a list lacking this node. fn owns the slice it
	// receives. Watch returns ctx.Err() when ctx is done and [ErrClosed]
	// after Close.
	Watch(ctx context.Context, fn func([]Member)) error
	// Close leaves the cluster: an etcd member revokes its lease first so
	// the others see the departure at once. Close ends every Watch call and
	// is idempotent; ctx bounds how long it may block.
	Close(ctx context.Context) error
}

// ErrClosed is returned by [Membership.Watch] once the Membership is closed.
var ErrClosed = errors.New("cluster: membership closed")

// sortMembers sorts ms by ID in place and returns it.
func sortMembers(ms []Member) []Member {
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return ms
}

// sameMembers reports whether a and b hold the same records in the same
// order. Since is compared with time.Time.Equal: a record decoded from JSON
// has no monotonic reading and may carry another location.
func sameMembers(a, b []Member) bool {
	return slices.EqualFunc(a, b, func(x, y Member) bool {
		return x.ID == y.ID && x.Addr == y.Addr && x.Since.Equal(y.Since)
	})
}
