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

// slack is what the timing bounds of these tests allow on top of the
// attempt timeouts and back-offs they expect: scheduling on a busy
// machine under -race. It is well below the waits a hung endpoint causes
// without ejection (until the test's context ends).
const slack = 500 * time.Millisecond

// gate freezes and thaws the connections of a freezeListener, as SIGSTOP
// and SIGCONT would the node's process: the kernel still accepts
// connections and buffers bytes, but nothing is read, answered or
// accepted while the gate is shut.
type gate struct {
	mu     sync.Mutex
	thawed chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{thawed: make(chan struct{})}
	close(g.thawed)
	return g
}

// wait returns once the gate is open.
func (g *gate) wait() {
	g.mu.Lock()
	ch := g.thawed
	g.mu.Unlock()
	<-ch
}

// freeze shuts the gate; it does nothing if it is shut.
func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.thawed:
		g.thawed = make(chan struct{})
	default:
	}
}

// thaw opens the gate; it does nothing if it is open.
func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.thawed:
	default:
		close(g.thawed)
	}
}

// freezeListener is a listener whose connections stop at g while it is
// shut.
type freezeListener struct {
	net.Listener
	g *gate
}

func (l freezeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.g.wait()
	return freezeConn{c, l.g}, nil
}

type freezeConn struct {
	net.Conn
	g *gate
}

// Read waits at the gate before and after reading, so bytes that arrive
// while it is shut are not handed over until it opens.
func (c freezeConn) Read(p []byte) (int, error) {
	c.g.wait()
	n, err := c.Conn.Read(p)
	c.g.wait()
	return n, err
}

func (c freezeConn) Write(p []byte) (int, error) {
	c.g.wait()
	return c.Conn.Write(p)
}

// freezableListener returns a loopback listener and its gate; the gate is
// opened before the test's later cleanups (stopping the node) run.
func freezableListener(t *testing.T) (net.Listener, *gate) {
	g := newGate()
	ln := freezeListener{listen(t), g}
	t.Cleanup(g.thaw)
	return ln, g
}

// startFreezableNode starts a node that the returned gate can freeze.
func startFreezableNode(t *testing.T) (*testNode, *gate) {
	ln, g := freezableListener(t)
	n := startNodeOn(t, node.Config{}, ln)
	t.Cleanup(g.thaw) // runs before the node's Stop
	return n, g
}

// healthEvents collects a client's ejections and readmissions.
type healthEvents struct {
	ch chan healthEvent
}

type healthEvent struct {
	url     string
	ejected bool
}

func watchHealth(c *client.Client) *healthEvents {
	h := &healthEvents{ch: make(chan healthEvent, 1024)}
	setOnHealth(c, func(url string, ejected bool) {
		select {
		case h.ch <- healthEvent{url, ejected}:
		default: // the tests that watch see far fewer events
		}
	})
	return h
}

// wait fails t unless url is ejected (or readmitted) within d.
func (h *healthEvents) wait(t *testing.T, url string, ejected bool, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-h.ch:
			if ev == (healthEvent{url, ejected}) {
				return
			}
		case <-timer.C:
			t.Fatalf("%s: no event ejected=%v within %v", url, ejected, d)
		}
	}
}

// getHello calls Get(hello) and fails t unless it returns world within
// d.
func getHello(t *testing.T, c *client.Client, d time.Duration) {
	t.Helper()
	if err := hello(t.Context(), c, d); err != nil {
		t.Fatal(err)
	}
}

// hello calls Get(hello) and says what is wrong unless it returns world
// within d. The call's own deadline is far longer, so a call that waits
// on a hung node is reported, not cut short.
func hello(ctx context.Context, c *client.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	s, err := c.GetString(ctx, "default", "hello")
	if took := time.Since(start); err != nil || s != "world" || took > d {
		return fmt.Errorf("Get(hello) = %q, %v after %v; want world within %v", s, err, took, d)
	}
	return nil
}

// TestHungEndpointIsEjected freezes one of two nodes: the call that meets
// it returns within one attempt timeout and a retry, the node is ejected
// so that later calls do not wait on it, and once it thaws it is
// readmitted and gets calls again.
func TestHungEndpointIsEjected(t *testing.T) {
	const timeout = 200 * time.Millisecond
	hung, g := startFreezableNode(t)
	ok := startNode(t, node.Config{})
	hc, counter := countingClient(t)
	c := newClient(t, []string{hung.url, ok.url}, client.WithHTTPClient(hc), client.WithAttemptTimeout(timeout))
	events := watchHealth(c)
	for range 2 {
		getHello(t, c, slack)
	}
	if counter.to(hung.url) != 1 {
		t.Fatalf("%d calls reached %s, want 1 of 2 (round robin)", counter.to(hung.url), hung.url)
	}

	g.freeze()
	for range 2 { // one of them starts at the hung node
		getHello(t, c, timeout+50*time.Millisecond+slack)
	}
	events.wait(t, hung.url, true, slack)
	atHung := counter.to(hung.url)
	if atHung != 2 {
		t.Fatalf("%d calls reached %s, want 2: the call that met it should have moved on", atHung, hung.url)
	}
	for range 10 {
		getHello(t, c, slack)
	}
	if got := counter.to(hung.url); got != atHung {
		t.Fatalf("%d calls reached the ejected %s", got-atHung, hung.url)
	}

	g.thaw()
	events.wait(t, hung.url, false, 5*time.Second)
	for range 4 {
		getHello(t, c, slack)
	}
	if got := counter.to(hung.url); got != atHung+2 {
		t.Fatalf("%d of 4 calls reached the readmitted %s, want 2", got-atHung, hung.url)
	}
}

// TestShortCallerDeadlineEjects calls a frozen node with deadlines shorter
// than the attempt timeout: such a call fails with the caller's deadline
// and is not retried, and the node is still ejected once it has been
// silent for an attempt timeout.
func TestShortCallerDeadlineEjects(t *testing.T) {
	const timeout, deadline = 300 * time.Millisecond, 60 * time.Millisecond
	hung, g := startFreezableNode(t)
	ok := startNode(t, node.Config{})
	hc, counter := countingClient(t)
	c := newClient(t, []string{hung.url, ok.url}, client.WithHTTPClient(hc), client.WithAttemptTimeout(timeout))
	events := watchHealth(c)
	getHello(t, c, slack)
	g.freeze()
	var failed int
	for start := time.Now(); !ejected(c, hung.url); {
		if time.Since(start) > timeout+5*time.Second {
			t.Fatalf("%s not ejected after %d calls that met it", hung.url, failed)
		}
		before, beforeHung := counter.to(ok.url), counter.to(hung.url)
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		_, err := c.Get(ctx, "default", "hello")
		cancel()
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, context.DeadlineExceeded) || client.IsRetryable(err) {
			t.Fatalf("Get = %v, want the caller's deadline, not retryable", err)
		}
		// A call that met the frozen node and then the other one was
		// retried; one that only reached the healthy node and ran past
		// the deadline on a loaded machine was not.
		if counter.to(hung.url) != beforeHung && counter.to(ok.url) != before {
			t.Fatalf("a call past the caller's deadline was retried: %v", err)
		}
	}
	events.wait(t, hung.url, true, slack)
	if failed == 0 {
		t.Fatal("no call met the frozen node before it was ejected")
	}
	for range 6 {
		getHello(t, c, deadline)
	}
}

// TestSecondTimeoutEndsCall checks that a call gives up after two
// attempts that ran out of their timeout, however many it may make.
func TestSecondTimeoutEndsCall(t *testing.T) {
	const timeout = 100 * time.Millisecond
	hc, counter := countingClient(t)
	c := newClient(t, []string{hangingEndpoint(t), hangingEndpoint(t)}, client.WithHTTPClient(hc),
		client.WithAttemptTimeout(timeout), client.WithRetry(client.RetryPolicy{MaxAttempts: 10}))
	recordSleeps(c)
	start := time.Now()
	_, err := c.Get(t.Context(), "default", "hello")
	took := time.Since(start)
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Fatalf("Get = %v, want DeadlineExceeded", err)
	}
	if n := counter.n.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
	if took < 2*timeout || took > 2*timeout+slack {
		t.Fatalf("Get took %v, want about %v", took, 2*timeout)
	}
}

// TestCloseStopsProbers closes a client while it probes ejected
// endpoints: Close waits for the probers, readmits every endpoint, and
// calls after it eject nothing.
func TestCloseStopsProbers(t *testing.T) {
	n := startNode(t, node.Config{})
	hung := hangingEndpoint(t)
	dead := deadEndpoint(t)
	c := newClient(t, []string{hung, dead, n.url}, client.WithAttemptTimeout(100*time.Millisecond))
	recordSleeps(c)
	events := watchHealth(c)
	for range 3 {
		getHello(t, c, time.Second+slack)
	}
	events.wait(t, hung, true, slack)
	events.wait(t, dead, true, slack)
	if p := probers(c); p != 2 {
		t.Fatalf("%d probers, want 2", p)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if p := probers(c); p != 0 || ejected(c, hung) || ejected(c, dead) {
		t.Fatalf("after Close: %d probers, ejected %v %v; want none", p, ejected(c, hung), ejected(c, dead))
	}
	for range 3 {
		_, _ = c.Get(t.Context(), "default", "hello")
	}
	if p := probers(c); p != 0 || ejected(c, hung) || ejected(c, dead) {
		t.Fatalf("calls after Close ejected: %d probers, ejected %v %v", p, ejected(c, hung), ejected(c, dead))
	}
}

// TestOwnerRoutingSkipsEjectedOwner freezes one node of three under an
// owner-routing client: its keys' first attempt goes to it once, and
// then never again while it is frozen; the other owners keep getting
// their keys straight.
func TestOwnerRoutingSkipsEjectedOwner(t *testing.T) {
	const timeout = 200 * time.Millisecond
	lns := []net.Listener{listen(t), listen(t), nil}
	var g *gate
	lns[2], g = freezableListener(t)
	nodes := startClusterOn(t, lns, node.Config{})
	t.Cleanup(g.thaw) // before the nodes stop
	urls := []string{nodes[0].url, nodes[1].url, nodes[2].url}
	hc, counter := countingClient(t)
	c := newClient(t, urls, client.WithHTTPClient(hc), client.WithOwnerRouting(time.Hour), client.WithAttemptTimeout(timeout))
	recordSleeps(c)
	events := watchHealth(c)
	ctx := t.Context()
	keys := map[string][]string{} // by owner ID
	for i := range ownerKeys {
		key := fmt.Sprintf("ej-%d", i)
		if err := c.SetString(ctx, "default", key, "v-"+key); err != nil {
			t.Fatal(err)
		}
		m, _ := nodes[0].Picker().Ring().Owner(key)
		keys[m.ID] = append(keys[m.ID], key)
	}
	frozenID := "nc"
	g.freeze()
	atFrozen := counter.to(nodes[2].url)
	start := time.Now()
	_, err := c.Get(ctx, "default", keys[frozenID][0])
	// The owner's attempt times out; the node the call goes on to
	// forwards to the frozen owner and may time out too.
	if took := time.Since(start); took > 2*timeout+slack {
		t.Fatalf("Get of a frozen owner's key took %v (%v), want at most %v", took, err, 2*timeout+slack)
	}
	events.wait(t, nodes[2].url, true, slack)
	// A node that timed out forwarding is readmitted by its first probe.
	for _, n := range nodes[:2] {
		for deadline := time.Now().Add(5 * time.Second); ejected(c, n.url); {
			if time.Now().After(deadline) {
				t.Fatalf("%s still ejected", n.url)
			}
			events.wait(t, n.url, false, time.Until(deadline))
		}
	}
	for _, id := range []string{"na", "nb"} {
		for _, key := range keys[id] {
			v, err := c.Get(ctx, "default", key)
			if err != nil || string(v.Bytes) != "v-"+key || v.Source != "local" {
				t.Fatalf("Get(%s) = %+v, %v; want v-%s from its owner %s", key, v, err, key, id)
			}
		}
	}
	if got := counter.to(nodes[2].url) - atFrozen; got != 1 {
		t.Fatalf("%d calls reached the frozen owner, want 1", got)
	}
}

// TestEjectionHammer beats on a client from several goroutines while one
// of three endpoints freezes and thaws over and over, each time once it
// has been ejected or readmitted and the workers made some calls: under
// -race this finds unguarded health state, no call may fail or wait much
// longer than an attempt timeout and a retry, and Close leaves no prober
// behind.
func TestEjectionHammer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hung, g := startFreezableNode(t)
	a, b := startNode(t, node.Config{}), startNode(t, node.Config{})
	c := newClient(t, []string{hung.url, a.url, b.url}, client.WithAttemptTimeout(timeout))
	events := watchHealth(c)
	const workers, rounds, every = 6, 60, 30
	var done atomic.Int64
	tick := make(chan struct{}, 1)
	stop := make(chan struct{})
	var flipper sync.WaitGroup
	var flips int
	flipper.Go(func() {
		defer g.thaw()
		for frozen := false; ; frozen = !frozen {
			for from := done.Load(); done.Load() < from+every; { // wait for some calls
				select {
				case <-stop:
					return
				case <-tick:
				}
			}
			if frozen {
				g.thaw()
			} else {
				g.freeze()
			}
			for ev := (healthEvent{}); ev != (healthEvent{hung.url, !frozen}); { // wait for the client to see it
				select {
				case <-stop:
					return
				case ev = <-events.ch:
				}
			}
			flips++
		}
	})
	var calls sync.WaitGroup
	for range workers {
		calls.Go(func() {
			for range rounds {
				if err := hello(t.Context(), c, timeout+200*time.Millisecond+slack); err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
				select {
				case tick <- struct{}{}:
				default:
				}
			}
		})
	}
	calls.Wait()
	close(stop)
	flipper.Wait()
	c.Close()
	if p := probers(c); p != 0 {
		t.Fatalf("%d probers after Close", p)
	}
	if flips < 2 {
		t.Fatalf("%d freezes and thaws seen by the client, want at least 2", flips)
	}
	t.Logf("%d freezes and thaws", flips)
}
