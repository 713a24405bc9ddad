package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/sdk/client"
)

// Source values of GetResponse, short.
const (
	srcLocal  = distcachev1.Source_SOURCE_LOCAL
	srcHot    = distcachev1.Source_SOURCE_HOT
	srcPeer   = distcachev1.Source_SOURCE_PEER
	srcLoader = distcachev1.Source_SOURCE_LOADER
)

// The times the issue asks the cluster to keep.
const (
	leaseTTL     = 2 * time.Second
	joinLeaveMax = time.Second            // join and graceful leave
	crashMax     = leaseTTL + time.Second // crash: the lease runs out
	settleMax    = 15 * time.Second       // only keeps a broken test from hanging
)

// demoRows are rows every node's demo database has (server/source).
var demoRows = map[string]string{
	"hello": "world", "greeting": "Hello from distcache!", "answer": "42",
	"lorem": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
	"motto": "A cache is a promise to forget, politely.",
}

// clusterRun is the state TestClusterEndToEnd's steps share, in order.
type clusterRun struct {
	t     *testing.T // the parent test: it owns every process
	etcd  *testEtcd
	nodes []*clusterNode // every node started, by ID order
	live  []*clusterNode // the nodes that should be in every ring

	setOwner map[string]string // key Set in SetOnOneReadOnOthers -> its owner then
	left     *clusterNode      // stopped with SIGTERM
	crashed  *clusterNode      // killed with SIGKILL
	etcdBack time.Time         // when etcd was started again

	took timings
}

// TestClusterEndToEnd runs a real etcd and real node processes through
// the life of a cluster: start, reads across nodes, a join, a graceful
// leave, a crash under client load, an etcd outage and a restart. Each
// step needs the ones before it, so a step stopped by t.Fatal ends the
// test; one that only reported errors does not. The convergence times are
// logged on one line at the end.
func TestClusterEndToEnd(t *testing.T) {
	c := &clusterRun{t: t, etcd: startEtcd(t), took: timings{}}
	c.nodes = startCluster(t, c.etcd.clientAddr, 3, leaseTTL)
	c.live = slices.Clone(c.nodes)
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"ThreeNodesConverge", c.converge},
		{"SetOnOneReadOnOthers", c.setAndRead},
		{"FourthNodeJoins", c.join},
		{"SIGTERMLeaves", c.leave},
		{"SIGKILLUnderClientLoad", c.crash},
		{"CrashedOwnersKeyReloaded", c.reload},
		{"EtcdOutage", c.etcdOutage},
		{"RestartedNodeRejoins", c.rejoin},
	}
	for _, s := range steps {
		// A step that ended with t.Fatal left the cluster in no known
		// state; one that only reported errors did not.
		finished := false
		t.Run(s.name, func(t *testing.T) { s.run(t); finished = true })
		if !finished {
			break
		}
	}
	t.Logf("convergence: start %s, join %s, leave %s, crash %s (ttl %v), etcd recovery %s, rejoin %s",
		c.took.of("start"), c.took.of("join"), c.took.of("leave"), c.took.of("crash"), leaseTTL,
		c.took.of("etcd recovery"), c.took.of("rejoin"))
}

// timings are convergence times by event.
type timings map[string]time.Duration

// of returns the time of event, or "-" if it was not measured.
func (m timings) of(event string) string {
	if d, ok := m[event]; ok {
		return d.String()
	}
	return "-"
}

// measure records how long event took to converge and logs it.
func (c *clusterRun) measure(t *testing.T, event string, d time.Duration, detail string) {
	t.Helper()
	c.took[event] = d.Round(time.Millisecond)
	t.Logf("convergence: %s %v%s", event, c.took[event], detail)
}

// converge waits until the first three nodes see each other.
func (c *clusterRun) converge(t *testing.T) {
	var last time.Time
	for _, n := range c.live {
		if n.servingAt.After(last) {
			last = n.servingAt
		}
	}
	c.measure(t, "start", waitConverged(t, c.live, ids(c.live...), last, settleMax), " after the last node served")
}

// setAndRead sets keys through node1 and reads each through every node:
// the owner has it in its store, the others fetch it from the owner.
func (c *clusterRun) setAndRead(t *testing.T) {
	c.setOwner = map[string]string{}
	for i := range 16 {
		key := fmt.Sprintf("e2e-key-%02d", i)
		mustSet(t, c.live[0], key, "value of "+key)
		c.setOwner[key] = agreedOwner(t, c.live, key)
	}
	for key, own := range c.setOwner {
		for _, n := range c.live {
			first := mustGet(t, n, key, "value of "+key)
			again := mustGet(t, n, key, "value of "+key)
			if n.id == own {
				if first != srcLocal || again != srcLocal {
					t.Errorf("%s owns %s: sources %v then %v, want %v", n.id, key, first, again, srcLocal)
				}
			} else if first != srcPeer || (again != srcPeer && again != srcHot) {
				t.Errorf("%s (owner %s) %s: sources %v then %v, want %v then %v or %v",
					n.id, own, key, first, again, srcPeer, srcPeer, srcHot)
			}
		}
	}
}

// agreedOwner returns the owner of key, failing t unless every node
// names the same one.
func agreedOwner(t *testing.T, nodes []*clusterNode, key string) string {
	t.Helper()
	own := owner(t, nodes[0], key)
	for _, n := range nodes[1:] {
		if o := owner(t, n, key); o != own {
			t.Fatalf("owner of %q: %s says %s, %s says %s", key, nodes[0].id, own, n.id, o)
		}
	}
	return own
}

// join starts node4 and times, from its msg=serving line, how soon every
// ring has four members.
func (c *clusterRun) join(t *testing.T) {
	n := &clusterNode{
		id: "node4", addr: freeAddr(c.t), db: c.nodes[0].db,
		etcd: c.etcd.clientAddr, leaseTTL: leaseTTL,
	}
	n.launch(c.t, t)
	n.waitServing(t)
	c.nodes = append(c.nodes, n)
	c.live = append(c.live, n)
	d := waitConverged(t, c.live, ids(c.live...), n.servingAt, settleMax)
	reg := logTime(t, lineWith(n.stderr(), "cluster: registered in etcd"))
	c.measure(t, "join", d, fmt.Sprintf(" after node4 served (%v after it registered in etcd)",
		(d+n.servingAt.Sub(reg)).Round(time.Millisecond)))
	if d >= joinLeaveMax {
		t.Errorf("join converged in %v, want < %v", d, joinLeaveMax)
	}
}

// leave stops node2 with SIGTERM and times how soon the others drop it.
func (c *clusterRun) leave(t *testing.T) {
	n := byID(c.live, "node2")
	at := n.kill(t, syscall.SIGTERM)
	c.live = alive(c.live, n)
	c.left = n
	d := waitConverged(t, c.live, ids(c.live...), at, settleMax)
	c.measure(t, "leave", d, " after SIGTERM")
	if d >= joinLeaveMax {
		t.Errorf("leave converged in %v, want < %v", d, joinLeaveMax)
	}
	if code, stderr := n.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("node2 exited with %d after SIGTERM; stderr:\n%s", code, stderr)
	}
}

// crash kills the owner of "hello" with SIGKILL while clients Get and Set
// through every node, times how soon the others drop it, and checks that
// no call failed past the client's retries.
func (c *clusterRun) crash(t *testing.T) {
	victim := byID(c.live, agreedOwner(t, c.live, "hello"))
	if src := mustGet(t, victim, "hello", "world"); src != srcLoader && src != srcLocal {
		t.Fatalf("owner %s: Get(hello) source %v, want %v or %v", victim.id, src, srcLoader, srcLocal)
	}
	var urls []string
	for _, n := range c.live {
		urls = append(urls, n.baseURL)
	}
	load := startLoad(t, urls, 8)
	time.Sleep(300 * time.Millisecond)
	at := victim.kill(t, syscall.SIGKILL)
	c.live = alive(c.live, victim)
	c.crashed = victim
	d := waitConverged(t, c.live, ids(c.live...), at, settleMax)
	time.Sleep(300 * time.Millisecond)
	ops, errs := load.stop()
	c.measure(t, "crash", d, fmt.Sprintf(" after SIGKILL of %s (ttl %v); client load: %d calls, %d failed", victim.id, leaseTTL, ops, len(errs)))
	if d > crashMax {
		t.Errorf("crash converged in %v, want <= %v", d, crashMax)
	}
	// A write whose owner is down fails (unavailable) until the ring drops
	// the owner: no node takes it in the owner's place (docs/consistency.md).
	// Every other call must succeed within the client's retries.
	refused, failed := 0, 0
	for _, err := range errs {
		if connect.CodeOf(err) == connect.CodeUnavailable && strings.Contains(err.Error(), "set default/") &&
			(strings.Contains(err.Error(), "owner "+victim.id+" ") || strings.Contains(err.Error(), "peer "+victim.id+" ")) {
			refused++
			continue
		}
		if failed++; failed <= 30 {
			t.Errorf("client call failed past its retries: %v", err)
		}
	}
	t.Logf("%d writes to %s's keys refused while it was down", refused, victim.id)
	if failed > 30 {
		t.Errorf("... and %d more", failed-30)
	}
	if ops == 0 {
		t.Error("the client load made no calls")
	}
}

// reload checks that the new owner of "hello" loads it from its own
// database, and the other survivors fetch it from there.
func (c *clusterRun) reload(t *testing.T) {
	own := byID(c.live, agreedOwner(t, c.live, "hello"))
	if src := mustGet(t, own, "hello", "world"); src != srcLoader {
		t.Errorf("new owner %s: first Get(hello) source %v, want %v", own.id, src, srcLoader)
	}
	for _, n := range alive(c.live, own) {
		if src := mustGet(t, n, "hello", "world"); src != srcPeer && src != srcHot {
			t.Errorf("%s (owner %s): Get(hello) source %v, want %v or %v", n.id, own.id, src, srcPeer, srcHot)
		}
	}
	if src := mustGet(t, own, "hello", "world"); src != srcLocal {
		t.Errorf("new owner %s: second Get(hello) source %v, want %v", own.id, src, srcLocal)
	}
}

// etcdOutage stops etcd for longer than the lease TTL: reads keep working
// and rings keep their members. Then etcd starts again on the same data
// and ports, and every node registers again.
func (c *clusterRun) etcdOutage(t *testing.T) {
	start := time.Now()
	c.etcd.stop()
	t.Logf("etcd stopped in %v", time.Since(start).Round(time.Millisecond))
	outage := time.Now()
	reads := 0
	for time.Since(outage) < leaseTTL+time.Second {
		for _, n := range c.live {
			mustGet(t, n, "hello", "world")
			reads++
		}
		time.Sleep(100 * time.Millisecond)
	}
	views := viewsOf(t.Context(), c.live)
	if !allEqual(views, ids(c.live...)) {
		t.Errorf("rings changed during the etcd outage, want %v each:\n%s", ids(c.live...), formatViews(views))
	}
	t.Logf("%d reads during a %v etcd outage, all served", reads, time.Since(outage).Round(time.Millisecond))

	c.etcdBack = time.Now()
	c.etcd.start(t)
	t.Logf("etcd ready %v after the restart began", time.Since(c.etcdBack).Round(time.Millisecond))
	d := c.waitRegistered(t)
	d = max(d, waitConverged(t, c.live, ids(c.live...), c.etcdBack, settleMax))
	c.measure(t, "etcd recovery", d, " after etcd restarted (every live node registered again)")
}

// waitRegistered waits until etcd holds the record of each live node, and
// each node that lost its lease during the outage logged that it
// registered again; it returns how long after c.etcdBack that was.
func (c *clusterRun) waitRegistered(t *testing.T) time.Duration {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{c.etcd.clientAddr}, DialTimeout: rpcTimeout, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	want := ids(c.live...)
	var got []string
	for deadline := time.Now().Add(settleMax); time.Now().Before(deadline); time.Sleep(pollEvery) {
		got = registeredIDs(t.Context(), cli)
		done := slices.Equal(got, want)
		for _, n := range c.live {
			lost := n.countLines("keep-alive stopped")
			done = done && n.countLines("registered in etcd again") >= lost
		}
		if done {
			return time.Since(c.etcdBack)
		}
	}
	t.Fatalf("etcd lists %v after %v, want %v", got, settleMax, want)
	return 0
}

// registeredIDs returns the sorted IDs under the members prefix, or nil
// if etcd does not answer.
func registeredIDs(ctx context.Context, cli *clientv3.Client) []string {
	const prefix = "/distcache/members/"
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key[len(prefix):]))
	}
	slices.Sort(out)
	return out
}

// rejoin starts node2 again with the same ID, address and database: the
// rings take it back, and a key it owned before still comes from its
// database. Last, once leases not kept alive since the etcd restart would
// have expired, the rings still hold every live node.
func (c *clusterRun) rejoin(t *testing.T) {
	n := c.left
	n.restart(c.t, t)
	c.live = append(c.live, n)
	d := waitConverged(t, c.live, ids(c.live...), n.servingAt, settleMax)
	c.measure(t, "rejoin", d, " after node2 served again")
	if d >= joinLeaveMax {
		t.Errorf("rejoin converged in %v, want < %v", d, joinLeaveMax)
	}

	checked := 0
	for key, own := range c.setOwner {
		if own != n.id || agreedOwner(t, c.live, key) != n.id {
			continue
		}
		if src := mustGet(t, n, key, "value of "+key); src != srcLoader {
			t.Errorf("node2 after restart: Get(%s) source %v, want %v (from its database)", key, src, srcLoader)
		}
		checked++
	}
	t.Logf("%d keys node2 owned before its restart served from its database", checked)

	if wait := leaseTTL + 1500*time.Millisecond - time.Since(c.etcdBack); wait > 0 {
		time.Sleep(wait)
	}
	waitConverged(t, c.live, ids(c.live...), time.Now(), time.Second)
}

// load is client traffic running in the background.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ops    atomic.Int64
	mu     sync.Mutex
	errs   []error
}

// startLoad starts workers that each Get the demo rows (except "hello")
// and Set keys of their own through a client of urls, until stop.
func startLoad(t *testing.T, urls []string, workers int) *load {
	t.Helper()
	// Writes to a crashed owner's keys fail (unavailable) until the ring
	// drops it, up to the lease TTL: the retries span more than that.
	cl, err := client.New(urls, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 16, BaseDelay: 20 * time.Millisecond, MaxDelay: 300 * time.Millisecond,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	keys := slices.DeleteFunc(slices.Sorted(func(yield func(string) bool) {
		for k := range demoRows {
			if !yield(k) {
				return
			}
		}
	}), func(k string) bool { return k == "hello" })
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				l.record(ctx, l.call(ctx, cl, w, i, keys[i%len(keys)]))
			}
		})
	}
	t.Cleanup(func() { l.stop(); cl.Close() })
	return l
}

// call makes worker w's i-th call: a Get of key, or every other time a Set.
func (l *load) call(ctx context.Context, cl *client.Client, w, i int, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if i%2 == 1 {
		return cl.SetString(ctx, "default", fmt.Sprintf("load-%d-%d", w, i), "x")
	}
	got, err := cl.GetString(ctx, "default", key)
	if err == nil && got != demoRows[key] {
		err = fmt.Errorf("Get(%s) = %q, want %q", key, got, demoRows[key])
	}
	return err
}

// record counts a call and keeps its error, unless the load was stopped
// during it.
func (l *load) record(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	l.ops.Add(1)
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	}
}

// stop stops the workers and returns how many calls they made and the
// errors of those that failed. It is safe to call more than once.
func (l *load) stop() (int64, []error) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ops.Load(), slices.Clone(l.errs)
}
