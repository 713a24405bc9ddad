package clienttest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

// recordSleeps makes c record its back-off delays instead of sleeping.
func recordSleeps(c *client.Client) *[]time.Duration {
	var mu sync.Mutex
	var delays []time.Duration
	setSleep(c, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		delays = append(delays, d)
		return ctx.Err()
	})
	return &delays
}

func TestRetrySkipsDeadEndpoint(t *testing.T) {
	n := startNode(t, node.Config{})
	hc, counter := countingClient(t)
	c := newClient(t, []string{deadEndpoint(t), n.url}, client.WithHTTPClient(hc))
	delays := recordSleeps(c)
	ctx := t.Context()
	const calls = 6
	for i := range calls {
		if err := c.SetString(ctx, "default", "k", "v"); err != nil {
			t.Fatalf("call %d: Set: %v", i, err)
		}
		if s, err := c.GetString(ctx, "default", "k"); err != nil || s != "v" {
			t.Fatalf("call %d: Get = %q, %v", i, s, err)
		}
		if err := c.Delete(ctx, "default", "other"); err != nil {
			t.Fatalf("call %d: Delete: %v", i, err)
		}
	}
	// The first call starts at the dead endpoint, which costs one extra
	// attempt and one back-off, and ejects it: no later call tries it.
	if got, want := counter.n.Load(), int64(3*calls+1); got != want {
		t.Fatalf("%d attempts for %d calls, want %d", got, 3*calls, want)
	}
	if len(*delays) != 1 {
		t.Fatalf("%d back-offs, want 1", len(*delays))
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	for _, attempts := range []int{1, 3, 4} {
		t.Run(fmt.Sprintf("%d attempts", attempts), func(t *testing.T) {
			hc, counter := countingClient(t)
			opts := []client.Option{client.WithHTTPClient(hc)}
			if attempts != 4 { // 4 is the default
				opts = append(opts, client.WithRetry(client.RetryPolicy{MaxAttempts: attempts}))
			}
			c := newClient(t, []string{deadEndpoint(t)}, opts...)
			delays := recordSleeps(c)
			_, err := c.Get(t.Context(), "default", "hello")
			if !client.IsRetryable(err) || connect.CodeOf(err) != connect.CodeUnavailable {
				t.Fatalf("Get on a dead endpoint = %v (code %v), want a retryable Unavailable", err, connect.CodeOf(err))
			}
			if got := counter.n.Load(); got != int64(attempts) {
				t.Fatalf("%d attempts, want %d", got, attempts)
			}
			if len(*delays) != attempts-1 {
				t.Fatalf("%d back-offs, want %d", len(*delays), attempts-1)
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	hc, counter := countingClient(t)
	c := newClient(t, []string{deadEndpoint(t)}, client.WithHTTPClient(hc),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, "default", "hello")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want the context's deadline", err)
	}
	if client.IsRetryable(err) {
		t.Fatalf("IsRetryable(%v) = true for a context error", err)
	}
	if n := counter.n.Load(); n < 2 || n >= 100 {
		t.Fatalf("%d attempts, want a few before the deadline", n)
	}
}

func TestPerAttemptTimeoutMovesOn(t *testing.T) {
	n := startNode(t, node.Config{})
	hung := hangingEndpoint(t)
	c := newClient(t, []string{hung, n.url}, client.WithAttemptTimeout(100*time.Millisecond))
	recordSleeps(c)
	for i := range 4 { // the first starts at the hung endpoint
		if s, err := c.GetString(t.Context(), "default", "hello"); err != nil || s != "world" {
			t.Fatalf("call %d: Get = %q, %v", i, s, err)
		}
	}
	c = newClient(t, []string{hung}, client.WithAttemptTimeout(50*time.Millisecond), client.WithRetry(client.RetryPolicy{MaxAttempts: 2}))
	_, err := c.Get(t.Context(), "default", "hello")
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Fatalf("Get on a hung endpoint = %v, want DeadlineExceeded", err)
	}
}

// hangingEndpoint accepts connections and never answers.
func hangingEndpoint(t *testing.T) string {
	ln := listen(t)
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	})
	return "http://" + ln.Addr().String()
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{connect.NewError(connect.CodeUnavailable, errors.New("down")), true},
		{errors.Join(errors.New("wrapped"), connect.NewError(connect.CodeUnavailable, errors.New("down"))), true},
		{connect.NewError(connect.CodeResourceExhausted, errors.New("too big")), false},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("bad")), false},
		{connect.NewError(connect.CodeNotFound, errors.New("none")), false},
		{connect.NewError(connect.CodeDeadlineExceeded, context.DeadlineExceeded), false},
		{connect.NewError(connect.CodeCanceled, context.Canceled), false},
		{connect.NewError(connect.CodeInternal, errors.New("bug")), false},
		{context.Canceled, false},
		{errors.Join(context.DeadlineExceeded, connect.NewError(connect.CodeUnavailable, errors.New("down"))), false},
		{errors.New("plain"), false},
	}
	for _, tt := range tests {
		if got := client.IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	p, err := withDefaults(client.RetryPolicy{MaxAttempts: 10, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wantCaps := []time.Duration{50, 100, 200, 400, 800, 1000, 1000, 1000}
	for n, want := range wantCaps {
		want *= time.Millisecond
		if got := delayCap(p, n); got != want {
			t.Errorf("cap of retry %d = %v, want %v", n, got, want)
		}
		var asked int64
		top := delay(p, n, func(m int64) int64 { asked = m; return m - 1 })
		if asked != int64(want) || top != want-1 {
			t.Errorf("retry %d: drew from [0, %v) and got %v; want [0, %v) and %v", n, time.Duration(asked), top, want, want-1)
		}
		if low := delay(p, n, func(int64) int64 { return 0 }); low != 0 {
			t.Errorf("retry %d: lowest delay %v, want 0", n, low)
		}
	}
	if got := delayCap(p, 1<<20); got != time.Second {
		t.Errorf("cap of a huge retry count = %v, want MaxDelay (no overflow)", got)
	}
}

func TestBackoffDefaults(t *testing.T) {
	tests := []struct {
		in, want client.RetryPolicy
	}{
		{client.RetryPolicy{}, client.RetryPolicy{MaxAttempts: 4, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}},
		{client.RetryPolicy{MaxAttempts: 1}, client.RetryPolicy{MaxAttempts: 1, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}},
		{client.RetryPolicy{BaseDelay: 2 * time.Second}, client.RetryPolicy{MaxAttempts: 4, BaseDelay: 2 * time.Second, MaxDelay: 2 * time.Second}},
	}
	for _, tt := range tests {
		if got, err := withDefaults(tt.in); err != nil || got != tt.want {
			t.Errorf("%+v with defaults = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestJitterUsesTheDrawnDelays checks that the client sleeps what the
// back-off draws, with the real random source bounded by the caps.
func TestJitterUsesTheDrawnDelays(t *testing.T) {
	c := newClient(t, []string{deadEndpoint(t)},
		client.WithRetry(client.RetryPolicy{MaxAttempts: 6, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond}))
	delays := recordSleeps(c)
	var draws atomic.Int64
	setRand(c, func(n int64) int64 { draws.Add(1); return n / 2 })
	if _, err := c.Get(t.Context(), "default", "hello"); !client.IsRetryable(err) {
		t.Fatalf("Get = %v", err)
	}
	want := []time.Duration{5, 10, 20, 20, 20}
	if len(*delays) != len(want) || draws.Load() != int64(len(want)) {
		t.Fatalf("slept %v after %d draws, want %v", *delays, draws.Load(), want)
	}
	for i, d := range *delays {
		if d != want[i]*time.Millisecond {
			t.Fatalf("slept %v, want %v ms", *delays, want)
		}
	}
}
