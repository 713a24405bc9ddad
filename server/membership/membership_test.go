package membership

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// memberRecorder collects the lists a Watch hands to fn.
type memberRecorder struct {
	mu    sync.Mutex
	calls [][]Member
}

func (r *memberRecorder) fn(ms []Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, ms)
}

// snapshot returns a copy of the calls so far.
func (r *memberRecorder) snapshot() [][]Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// lastIDs returns the IDs of the last list, or nil before the first call.
func (r *memberRecorder) lastIDs() []string {
	calls := r.snapshot()
	if len(calls) == 0 {
		return nil
	}
	return memberIDs(calls[len(calls)-1])
}

func memberIDs(ms []Member) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// watchMembers runs m.Watch in the background until the test ends, and
// returns what fn received, a func that cancels the Watch, and one that
// waits for Watch to return and returns its error.
func watchMembers(t *testing.T, m Membership) (*memberRecorder, context.CancelFunc, func() error) {
	t.Helper()
	r := &memberRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Watch(ctx, r.fn) }()
	wait := sync.OnceValue(func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return")
			return nil
		}
	})
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return r, cancel, wait
}

// waitMemberIDs waits until every recorder's last list has exactly want,
// and returns how long that took.
func waitMemberIDs(t *testing.T, within time.Duration, recs []*memberRecorder, want ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok := true
		for _, r := range recs {
			ok = ok && slices.Equal(r.lastIDs(), want)
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			for i, r := range recs {
				t.Logf("watcher %d: last %v", i, r.lastIDs())
			}
			t.Fatalf("watchers did not converge to %v within %v", want, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStaticAloneMembership(t *testing.T) {
	a := Member{ID: "a", Addr: "a:1"}
	b := Member{ID: "b", Addr: "b:1"}
	c := Member{ID: "c", Addr: "c:1"}
	tests := []struct {
		name string
		m    Membership
		want []Member
	}{
		{"alone", Alone(b), []Member{b}},
		{"static sorts", Static(b, []Member{c, a}), []Member{a, b, c}},
		{"static no peers", Static(a, nil), []Member{a}},
		{"self listed in peers", Static(b, []Member{a, {ID: "b", Addr: "other:1"}, c}), []Member{a, b, c}},
		{"duplicate peers", Static(a, []Member{c, {ID: "c", Addr: "c:2"}}), []Member{a, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, cancel, done := watchMembers(t, tt.m)
			waitMemberIDs(t, time.Second, []*memberRecorder{r}, memberIDs(tt.want)...)
			cancel()
			if err := done(); !errors.Is(err, context.Canceled) {
				t.Errorf("Watch returned %v, want context.Canceled", err)
			}
			calls := r.snapshot()
			if len(calls) != 1 || !sameMembers(calls[0], tt.want) {
				t.Errorf("fn calls = %v, want one call with %v", calls, tt.want)
			}
		})
	}
}

func TestStaticMembershipClose(t *testing.T) {
	m := Static(Member{ID: "a"}, nil)
	r, _, done := watchMembers(t, m)
	waitMemberIDs(t, time.Second, []*memberRecorder{r}, "a")
	for range 2 { // idempotent
		if err := m.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := done(); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch returned %v, want ErrClosed", err)
	}
	if err := m.Watch(context.Background(), func([]Member) { t.Error("fn called after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close returned %v, want ErrClosed", err)
	}
}

func TestStaticMembershipOwnsSlice(t *testing.T) {
	peers := []Member{{ID: "b"}, {ID: "c"}}
	m := Static(Member{ID: "a"}, peers)
	peers[0].ID = "z" // Static copied the list
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got []Member
	_ = m.Watch(ctx, func(ms []Member) { got = ms; ms[0].ID = "mutated" })
	_ = m.Watch(ctx, func(ms []Member) { got = ms })
	if ids := memberIDs(got); !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("second Watch saw %v, want [a b c]", ids)
	}
}
