package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
)

// RetryPolicy says how a [Client] retries a call that failed with a
// retryable error (see [IsRetryable]). Each retry goes to the next
// endpoint, after a delay drawn uniformly from
// [0, min(MaxDelay, BaseDelay·2^n)) for the n-th retry, counting from 0
// ("full jitter"). Zero fields take their defaults: four attempts, with
// delays capped at 50ms, 100ms and 200ms. Whatever MaxAttempts says, a
// call ends after its second attempt that ran out of its
// [WithAttemptTimeout]: two nodes that both held it that long point at a
// delay behind them (the key's owner, the group's source) that more
// attempts would only add load to.
type RetryPolicy struct {
	// MaxAttempts is the most attempts a call makes, the first included
	// (default 4); 1 disables retries.
	MaxAttempts int
	// BaseDelay is the cap of the delay before the first retry (default
	// 50ms); the cap doubles on each retry after it.
	BaseDelay time.Duration
	// MaxDelay bounds the cap (default 1s).
	MaxDelay time.Duration
}

// defaultRetry is the policy of a client made without [WithRetry].
var defaultRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}

// withDefaults fills in zero fields and checks the rest.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
		return p, fmt.Errorf("WithRetry: negative field in %+v", p)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = defaultRetry.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = defaultRetry.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(defaultRetry.MaxDelay, p.BaseDelay)
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("WithRetry: MaxDelay %v is less than BaseDelay %v", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// delayCap is the upper bound of the delay before retry n (n from 0):
// min(MaxDelay, BaseDelay·2^n), without overflowing.
func (p RetryPolicy) delayCap(n int) time.Duration {
	d := p.BaseDelay
	for range n {
		if d >= p.MaxDelay/2 {
			return p.MaxDelay
		}
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// delay draws the delay before retry n from [0, delayCap(n)); randN
// returns a number in [0, n), as [math/rand/v2.Int64N] does.
func (p RetryPolicy) delay(n int, randN func(int64) int64) time.Duration {
	c := p.delayCap(n)
	if c <= 0 {
		return 0
	}
	return time.Duration(randN(int64(c)))
}

// IsRetryable reports whether err is worth retrying on another node: a
// call that failed with connect.CodeUnavailable, which is what the client
// sees when a node cannot be reached, is shutting down, or its source
// failed. (A call cut off by a reset connection is retried too, while the
// caller's context is live; connect-go reports it as Canceled.) Everything
// else is not: InvalidArgument and NotFound would fail
// the same way again; Canceled, DeadlineExceeded and the context's own
// errors mean the caller has given up; ResourceExhausted is not retried
// either, because a message too large stays too large and a shed load
// should not be met with more calls. (An attempt that ran out of its
// [WithAttemptTimeout] is retried by the client even so; see there.)
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return connect.CodeOf(err) == connect.CodeUnavailable
}

// sleep waits d or until ctx is done, and then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxTimedOut is how many attempts of one call may run out of their
// attempt timeout before the call fails (see [RetryPolicy]).
const maxTimedOut = 2

// call runs one RPC, fn, with retries: the first attempt goes to the next
// endpoint in round-robin order and each retry to the one after, passing
// over ejected endpoints (see roundRobin).
func (c *Client) call(ctx context.Context, fn func(context.Context, *endpoint) error) error {
	return c.callFirst(ctx, nil, fn)
}

// callFirst is call with the first attempt at first, unless it is nil;
// the retries go round robin as in call. A first member whose attempt
// failed with a retryable error is passed over from then on (until the
// owner router builds a new table).
func (c *Client) callFirst(ctx context.Context, first *member, fn func(context.Context, *endpoint) error) error {
	start := c.next.Add(1) - 1
	var prev *endpoint
	timedOut := 0
	for n := 0; ; n++ {
		e := c.pick(first, start, n, prev)
		err := c.attempt(ctx, e, fn)
		if err == nil {
			return nil
		}
		if !c.retryable(ctx, err) {
			return err
		}
		if n == 0 && first != nil {
			first.passOver.Store(true)
		}
		if errors.As(err, new(*attemptTimeoutError)) {
			timedOut++
		}
		if n+1 >= c.retry.MaxAttempts || timedOut >= maxTimedOut {
			return fmt.Errorf("%d attempts: %w", n+1, err)
		}
		if serr := c.sleep(ctx, c.retry.delay(n, c.randN)); serr != nil {
			return fmt.Errorf("%w after %d attempts (last error: %w)", serr, n+1, err)
		}
		prev = e
	}
}

// pick returns the endpoint of attempt n (from 0) of a call that starts
// round robin at start, or at first when it is not nil; prev is the
// endpoint of attempt n-1, which a retry avoids.
func (c *Client) pick(first *member, start uint64, n int, prev *endpoint) *endpoint {
	if first != nil {
		if n == 0 {
			return first.endpoint
		}
		n--
	}
	return c.roundRobin(start+uint64(n), prev)
}

// retryable reports whether the client tries err again on another node:
// [IsRetryable] errors, an attempt that ran out of its
// [WithAttemptTimeout], and a connection reset, while ctx is live.
func (c *Client) retryable(ctx context.Context, err error) bool {
	var timeout *attemptTimeoutError
	// connect-go reports a connection reset by the peer (a node that
	// died mid-call) as Canceled; with the caller's context still live
	// that is the node going away, not the caller giving up. Every call
	// is idempotent, so it is safe to try the next node.
	reset := connect.CodeOf(err) == connect.CodeCanceled && ctx.Err() == nil
	return IsRetryable(err) || reset || (errors.As(err, &timeout) && ctx.Err() == nil)
}

// attempt makes one attempt at e under the attempt timeout and records
// its outcome in e's health (see observe). An attempt that ran out of
// that timeout, rather than the caller's context, fails with an
// *attemptTimeoutError.
func (c *Client) attempt(ctx context.Context, e *endpoint, fn func(context.Context, *endpoint) error) error {
	if ctx.Err() != nil {
		return fn(ctx, e) // says nothing of e
	}
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	start := c.now()
	err := fn(actx, e)
	c.observe(ctx, e, start, err)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		return &attemptTimeoutError{timeout: c.timeout, err: err}
	}
	return err
}

// attemptTimeoutError is an attempt that ran out of its
// [WithAttemptTimeout].
type attemptTimeoutError struct {
	timeout time.Duration
	err     error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %v: %v", e.timeout, e.err)
}

func (e *attemptTimeoutError) Unwrap() error { return e.err }
