package membership

import (
	"context"
	"slices"
	"sync"
)

var _ Membership = (*static)(nil)

// static is a Membership whose list never changes.
type static struct {
	members []Member // sorted by ID; never modified after construction
	closed  chan struct{}
	once    sync.Once
}

// Alone returns the Membership of a node that is its own cluster: Watch
// reports just self. It is the default when no peers are configured.
func Alone(self Member) Membership { return Static(self, nil) }

// Static returns a Membership with a fixed list: self and peers, sorted by
// ID. Self is included once even if peers lists it (self's record wins);
// of peers sharing an ID the first is kept. Static copies peers. Watch calls
// fn once and then waits for ctx or Close; Close never blocks and never
// fails.
func Static(self Member, peers []Member) Membership {
	seen := map[string]bool{self.ID: true}
	ms := []Member{self}
	for _, p := range peers {
		if !seen[p.ID] {
			seen[p.ID] = true
			ms = append(ms, p)
		}
	}
	return &static{members: sortMembers(ms), closed: make(chan struct{})}
}

// Watch implements [Membership.Watch].
func (s *static) Watch(ctx context.Context, fn func([]Member)) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	fn(slices.Clone(s.members))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return ErrClosed
	}
}

// Close implements [Membership.Close]: it ends every Watch call.
func (s *static) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	return nil
}
