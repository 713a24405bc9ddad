package client

import (
	"context"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// probeEvery is how long a prober waits between two probes of an ejected
// endpoint that did not answer.
const probeEvery = 250 * time.Millisecond

// health is what a [Client] knows of one endpoint's liveness (outlier
// detection): whether it is ejected, and when it last answered.
type health struct {
	// ejected is set while the endpoint is passed over by routing: an
	// attempt at it got no answer, and no probe has had one since.
	ejected atomic.Bool
	// lastAnswer is when the endpoint last answered anything (a response
	// or an error from the node), in nanoseconds since the client's epoch.
	lastAnswer atomic.Int64
	// retired is set when owner routing stops using the endpoint; its
	// prober, if any, then gives up.
	retired atomic.Bool
	// probing is set while a prober runs for the endpoint; Client.mu
	// guards it.
	probing bool
}

// now returns the monotonic time since the client was made, in
// nanoseconds.
func (c *Client) now() int64 { return int64(time.Since(c.epoch)) }

// observe records the outcome err of an attempt at e that started at
// start (see now) while the caller's ctx was live. Any answer, an error
// from the node included, shows e alive. An attempt that got no answer (it
// ran out of its attempt timeout, or the connection failed) ejects e,
// unless e answered another call since the attempt started: then the
// delay was behind e (the key's owner, the source), not e. So does one
// that the caller gave up on, if e has also been silent for a whole
// attempt timeout, so that callers with short deadlines eject a hung node
// too.
func (c *Client) observe(ctx context.Context, e *endpoint, start int64, err error) {
	now := c.now()
	if err == nil || connect.IsWireError(err) {
		e.lastAnswer.Store(now)
		return
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeCanceled:
	default:
		return // not about e: a client-side failure
	}
	last := e.lastAnswer.Load()
	if last >= start {
		return
	}
	if ctx.Err() != nil && (c.timeout <= 0 || now-last < int64(c.timeout)) {
		return
	}
	c.eject(e)
}

// eject passes e over until a probe gets an answer from it, starting its
// prober unless one runs. A closed client ejects nothing.
func (c *Client) eject(e *endpoint) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	was := e.ejected.Swap(true)
	if !e.probing {
		e.probing = true
		c.probes.Add(1)
		go c.probe(e)
	}
	c.mu.Unlock()
	if !was && c.onHealth != nil {
		c.onHealth(e.url, true)
	}
}

// probe asks e for an answer at once and then every probeEvery until it
// gets one, the client is closed, or owner routing retires e; then it
// readmits e.
func (c *Client) probe(e *endpoint) {
	defer c.probes.Done()
	for !c.answers(e) {
		if e.retired.Load() || sleep(c.probeCtx, probeEvery) != nil {
			break
		}
	}
	c.mu.Lock()
	e.probing = false
	was := e.ejected.Swap(false)
	c.mu.Unlock()
	if was && c.onHealth != nil {
		c.onHealth(e.url, false)
	}
}

// answers reports whether e answers ClusterService/ListMembers within an
// attempt timeout. Any answer counts but Unavailable, which a node sends
// while it shuts down.
func (c *Client) answers(e *endpoint) bool {
	ctx, cancel := context.WithTimeout(c.probeCtx, c.probeTimeout())
	defer cancel()
	_, err := e.cluster.ListMembers(ctx, connect.NewRequest(&distcachev1.ListMembersRequest{}))
	if err != nil && (!connect.IsWireError(err) || connect.CodeOf(err) == connect.CodeUnavailable) {
		return false
	}
	e.lastAnswer.Store(c.now())
	return true
}

// probeTimeout is how long a probe waits: the attempt timeout, or its
// default when attempts have none.
func (c *Client) probeTimeout() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return defaultAttemptTimeout
}

// roundRobin returns the endpoint at position i of the ring of endpoints
// that are not ejected, or of all of them when every one is (ejecting
// them all would leave nothing to call). It returns avoid, the endpoint
// of the attempt before, only when there is no other.
func (c *Client) roundRobin(i uint64, avoid *endpoint) *endpoint {
	eps := c.endpoints
	live := 0
	for _, e := range eps {
		if !e.ejected.Load() {
			live++
		}
	}
	if live == 0 {
		e := eps[i%uint64(len(eps))]
		if e == avoid {
			e = eps[(i+1)%uint64(len(eps))]
		}
		return e
	}
	e := c.nthLive(int(i % uint64(live)))
	if e == avoid || e == nil {
		e = c.nthLive(int((i + 1) % uint64(live)))
	}
	if e == nil { // all ejected since we counted
		e = eps[i%uint64(len(eps))]
	}
	return e
}

// nthLive returns the n-th endpoint (from 0) that is not ejected, or nil.
func (c *Client) nthLive(n int) *endpoint {
	for _, e := range c.endpoints {
		if e.ejected.Load() {
			continue
		}
		if n == 0 {
			return e
		}
		n--
	}
	return nil
}
