package e2e

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distcache/distcache/sdk/client"
)

// The freeze test's windows and bounds.
const (
	// freezeLeaseTTL outlives the freeze, so the ring keeps the frozen
	// node throughout: the client alone must route around it.
	freezeLeaseTTL = 30 * time.Second
	freezeBaseline = 2 * time.Second // load before the freeze
	freezeWindow   = 5 * time.Second // load while one node is stopped
	freezeAfter    = time.Second     // load after it resumes
	freezeKeys     = 60
	// freezeAttempt is the default client's attempt timeout, and
	// freezeMaxLatency what one call may take: two timed-out attempts
	// (the most a call makes), their back-offs, and scheduling. Without
	// ejection and attempt timeouts a call waits out the whole freeze.
	freezeAttempt    = time.Second
	freezeMaxLatency = 2*freezeAttempt + time.Second
)

// freezeStats are the calls of one population of workers in one window.
type freezeStats struct {
	calls, errs int
	maxLatency  time.Duration
	took        time.Duration
	firstErr    error
}

// rate is calls per second, failed ones included.
func (s freezeStats) rate() float64 { return float64(s.calls) / s.took.Seconds() }

func (s freezeStats) String() string {
	return fmt.Sprintf("%.0f calls/s (%d calls, %d failed, max latency %v)", s.rate(), s.calls, s.errs, s.maxLatency.Round(time.Millisecond))
}

// freezeLoad runs workers closed-loop callers for d, each cycling over
// keys (nine Gets, then a Set of the value the key was filled with), and
// returns what they did. Calls still waiting 2*freezeMaxLatency after d
// are cut off, so a client that hangs fails the test without holding it.
func freezeLoad(ctx context.Context, c *client.Client, keys []string, workers int, d time.Duration) freezeStats {
	ctx, cancel := context.WithTimeout(ctx, d+2*freezeMaxLatency)
	defer cancel()
	var mu sync.Mutex
	var total freezeStats
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var s freezeStats
			for i := w; time.Now().Before(end) && ctx.Err() == nil; i++ {
				key := keys[i%len(keys)]
				t0 := time.Now()
				var err error
				if i%10 == 9 {
					err = c.SetString(ctx, "default", key, "value of "+key)
				} else {
					_, err = c.GetString(ctx, "default", key)
				}
				s.maxLatency = max(s.maxLatency, time.Since(t0))
				s.calls++
				if err != nil {
					s.errs++
					if s.firstErr == nil {
						s.firstErr = err
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total.calls += s.calls
			total.errs += s.errs
			total.maxLatency = max(total.maxLatency, s.maxLatency)
			if total.firstErr == nil {
				total.firstErr = s.firstErr
			}
		})
	}
	wg.Wait()
	total.took = time.Since(start)
	return total
}

// TestClientSurvivesFrozenNode stops one node of three with SIGSTOP under
// the load of a default Go client. The keys the live nodes own must keep
// at least half their throughput, and no call may wait much longer than
// two attempt timeouts: the client times the frozen node out, ejects it,
// and routes around it. Calls for the frozen node's own keys depend on
// how fast the nodes give up forwarding to it; they are measured and
// logged, and held to the latency bound only.
func TestClientSurvivesFrozenNode(t *testing.T) {
	etcd := startEtcd(t)
	nodes := startCluster(t, etcd.clientAddr, 3, freezeLeaseTTL)
	waitConverged(t, nodes, ids(nodes...), time.Now(), settleMax)
	frozen := nodes[1]
	t.Cleanup(func() { _ = frozen.cmd.Process.Signal(syscall.SIGCONT) }) // before the nodes stop
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.baseURL
	}
	c, err := client.New(urls) // the defaults under test
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	var liveKeys, frozenKeys []string
	for i := range freezeKeys {
		key := fmt.Sprintf("freeze-%02d", i)
		if err := c.SetString(t.Context(), "default", key, "value of "+key); err != nil {
			t.Fatalf("Set(%s): %v", key, err)
		}
		if owner(t, nodes[0], key) == frozen.id {
			frozenKeys = append(frozenKeys, key)
		} else {
			liveKeys = append(liveKeys, key)
		}
	}
	if len(frozenKeys) == 0 || len(liveKeys) == 0 {
		t.Fatalf("%d keys on %s and %d on the others; want some of each", len(frozenKeys), frozen.id, len(liveKeys))
	}

	const liveWorkers, frozenWorkers = 6, 2
	run := func(d time.Duration) (live, own freezeStats) {
		var wg sync.WaitGroup
		wg.Go(func() { own = freezeLoad(t.Context(), c, frozenKeys, frozenWorkers, d) })
		live = freezeLoad(t.Context(), c, liveKeys, liveWorkers, d)
		wg.Wait()
		return live, own
	}
	baseLive, baseOwn := run(freezeBaseline)
	frozen.kill(t, syscall.SIGSTOP)
	frozeLive, frozeOwn := run(freezeWindow)
	frozen.kill(t, syscall.SIGCONT)
	afterLive, afterOwn := run(freezeAfter)

	t.Logf("%s frozen for %v; attempt timeout %v", frozen.id, freezeWindow, freezeAttempt)
	t.Logf("live owners' keys:   baseline %v; frozen %v (%.0f%%); after %v", baseLive, frozeLive, 100*frozeLive.rate()/baseLive.rate(), afterLive)
	t.Logf("frozen owner's keys: baseline %v; frozen %v; after %v", baseOwn, frozeOwn, afterOwn)
	if frozeOwn.firstErr != nil {
		t.Logf("first error on the frozen owner's keys: %v", frozeOwn.firstErr)
	}

	if baseLive.errs+baseOwn.errs > 0 || baseLive.calls == 0 {
		t.Fatalf("baseline: %v and %v; first errors %v, %v", baseLive, baseOwn, baseLive.firstErr, baseOwn.firstErr)
	}
	if frozeLive.rate() < baseLive.rate()/2 {
		t.Errorf("throughput on the live owners' keys fell to %.0f calls/s with %s frozen, below half of %.0f", frozeLive.rate(), frozen.id, baseLive.rate())
	}
	if frozeLive.errs > 0 {
		t.Errorf("%d calls on the live owners' keys failed with %s frozen; first: %v", frozeLive.errs, frozen.id, frozeLive.firstErr)
	}
	for name, s := range map[string]freezeStats{"live owners' keys": frozeLive, "frozen owner's keys": frozeOwn} {
		if s.maxLatency > freezeMaxLatency {
			t.Errorf("%s: a call took %v with %s frozen, want at most %v", name, s.maxLatency, frozen.id, freezeMaxLatency)
		}
	}
}
