//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// The shape of TestConsistency's run. Deadlines only keep a broken run
// from hanging; nothing asserts on speed.
const (
	chaosGroup    = "chaos" // a group without a loader: Sets are its only values
	chaosKeys     = 12
	chaosWorkers  = 6
	chaosLease    = 2 * time.Second
	callTimeout   = time.Second // one attempt
	callAttempts  = 3           // a call is tried on up to 3 nodes in turn
	retryBackoff  = 25 * time.Millisecond
	avoidFor      = 2 * time.Second // a node that failed an attempt is tried last for this long
	maxCallsEach  = 50_000          // a worker's calls, whatever happens
	dwellCalls    = 1000            // calls to let through after each step
	dwellMax      = 4 * time.Second
	chaosBudget   = 100 * time.Second // faults and load; the check comes after
	checkTimeout  = 15 * time.Second  // porcupine, per key
	showAnomalies = 12                // anomalies logged in full
	batchShare    = 3                 // in 10 calls are batches (GetMany, SetMany, DeleteMany)
	chaosBatchMax = 4                 // keys in a batch: 2 to this
)

// chaosGroupsFile is the nodes' --config: one group, big enough that
// nothing is evicted, entries that never expire.
const chaosGroupsFile = "groups:\n  - name: " + chaosGroup + "\n    capacity: 16MiB\n"

// phaseBudget is how many anomalies one phase of the run may show: the
// window docs/consistency.md documents for that fault. Phantom reads are
// never allowed.
type phaseBudget struct{ stale, lost int }

// phaseBudgets lists the phases in the order the run goes through them,
// each with its budget. A phase starts when its fault is injected (or its
// recovery begins) and lasts until the next one starts; an anomaly counts
// in the phase its Get was called in.
var phaseBudgets = []struct {
	phase string
	phaseBudget
}{
	{"steady", phaseBudget{}},          // 3 nodes, no fault
	{"join", phaseBudget{}},            // node4 starts and joins
	{"sigterm", phaseBudget{}},         // node2 stops gracefully
	{"sigterm-restart", phaseBudget{}}, // node2 starts again
	{"sigkill", phaseBudget{}},         // a node crashes; its keys are written meanwhile
	{"sigkill-restart", phaseBudget{}}, // it starts again on its database
	{"sigstop-node", phaseBudget{}},    // another node frozen longer than its lease
	{"sigcont-node", phaseBudget{}},    // it is thawed
	{"sigstop-etcd", phaseBudget{}},    // etcd frozen longer than the lease TTL
	{"sigcont-etcd", phaseBudget{}},    // etcd thawed: every lease expires at once
	{"settle", phaseBudget{}},          // no fault
}

// budgetOf returns phase's budget; an unlisted phase may show nothing.
func budgetOf(phase string) phaseBudget {
	for _, p := range phaseBudgets {
		if p.phase == phase {
			return p.phaseBudget
		}
	}
	return phaseBudget{}
}

// TestConsistency checks DESIGN.md's consistency property under faults: a
// real etcd in its own process and real nodes, while workers Set, Get and
// Delete a few keys through every node and the harness joins a node,
// stops one with SIGTERM, kills one with SIGKILL and restarts it after its
// keys were written, freezes one longer than its lease, and freezes etcd
// longer than the lease TTL. The recorded history is checked as described
// in consistency_check_test.go; the anomalies of each phase must stay
// within phaseBudgets. Run it alone with
//
//	go test -race -count=1 -run TestConsistency ./e2e/ -v
//
// With DISTCACHE_ARTIFACTS=dir the history (JSON lines) and porcupine's
// visualization of a key that is not linearizable are written there;
// without it, to a temporary directory that is kept when the test fails.
func TestConsistency(t *testing.T) {
	r := newChaosRun(t)
	r.nodes = make([]*clusterNode, 3)
	for i := range r.nodes {
		r.nodes[i] = r.newNode(fmt.Sprintf("node%d", i+1))
		r.launch(t, r.nodes[i])
	}
	for _, n := range r.nodes {
		n.waitServing(t)
	}
	waitConverged(t, r.nodes, ids(r.nodes...), time.Now(), settleMax)
	r.setTargets(r.nodes)

	r.phase("steady", "3 nodes serving; load starts")
	stop := r.startWorkers()
	// The faults run as a subtest: if one fails the run, the history so far
	// is still checked and reported.
	t.Run("faults", r.faults)
	history := stop()
	r.report(t, history)
}

// chaosRun is the state of one TestConsistency run.
type chaosRun struct {
	t      *testing.T // the parent test: it owns every process
	start  time.Time  // time 0 of the history
	etcd   *etcdProcess
	config string         // the groups file
	nodes  []*clusterNode // every node started, by ID
	http   *http.Client

	targets   atomic.Pointer[[]chaosTarget]
	calls     atomic.Int64            // calls finished (with their retries)
	ackedSets [chaosKeys]atomic.Int64 // acknowledged Sets, by key index

	mu       sync.Mutex
	timeline []chaosEvent
}

// chaosTarget is a node the workers call, with a client per protocol.
type chaosTarget struct {
	id      string
	clients [2]distcachev1connect.CacheServiceClient // Connect, gRPC-Web
}

// chaosEvent is one line of the fault timeline; phase is set on the event
// that starts a phase.
type chaosEvent struct {
	at          int64 // ns since r.start
	phase, what string
}

// newChaosRun starts etcd in its own process and writes the groups file.
func newChaosRun(t *testing.T) *chaosRun {
	r := &chaosRun{t: t, start: time.Now()}
	r.etcd = startEtcdProcess(t)
	r.config = filepath.Join(t.TempDir(), "groups.yaml")
	if err := os.WriteFile(r.config, []byte(chaosGroupsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	r.http = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: callTimeout}).DialContext,
		MaxIdleConnsPerHost: 2 * chaosWorkers,
	}}
	t.Cleanup(r.http.CloseIdleConnections)
	return r
}

// now returns the time since the run began, on the monotonic clock.
func (r *chaosRun) now() int64 { return int64(time.Since(r.start)) }

// phase starts a phase of the timeline.
func (r *chaosRun) phase(name, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timeline = append(r.timeline, chaosEvent{at: r.now(), phase: name, what: what})
}

// note adds an event to the current phase.
func (r *chaosRun) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timeline = append(r.timeline, chaosEvent{at: r.now(), what: fmt.Sprintf(format, args...)})
}

// newNode returns a node of the run that has not started yet.
func (r *chaosRun) newNode(id string) *clusterNode {
	return &clusterNode{
		id: id, addr: freeAddr(r.t), db: filepath.Join(r.t.TempDir(), "x.db"),
		etcd: r.etcd.endpoint, leaseTTL: chaosLease, args: []string{"--config", r.config},
	}
}

// launch starts n's process without waiting for it to serve; the parent
// test stops it.
func (r *chaosRun) launch(t *testing.T, n *clusterNode) {
	t.Helper()
	n.launch(r.t, t)
}

// setTargets makes nodes the ones the workers call.
func (r *chaosRun) setTargets(nodes []*clusterNode) {
	ts := make([]chaosTarget, len(nodes))
	for i, n := range nodes {
		ts[i] = chaosTarget{id: n.id, clients: [2]distcachev1connect.CacheServiceClient{
			distcachev1connect.NewCacheServiceClient(r.http, n.baseURL),
			distcachev1connect.NewCacheServiceClient(r.http, n.baseURL, connect.WithGRPCWeb()),
		}}
	}
	r.targets.Store(&ts)
}

// chaosKey returns the i-th key of the run.
func chaosKey(i int) string { return fmt.Sprintf("ck-%02d", i) }

// startWorkers starts the workers; the function it returns stops them,
// each after its current call, and returns their merged history.
func (r *chaosRun) startWorkers() func() []histOp {
	stop := make(chan struct{})
	ops := make([][]histOp, chaosWorkers)
	var wg sync.WaitGroup
	for w := range chaosWorkers {
		wg.Go(func() { ops[w] = r.work(w, stop) })
	}
	return func() []histOp {
		close(stop)
		wg.Wait()
		r.note("load stopped")
		return slices.Concat(ops...)
	}
}

// work is worker w: until stop (or maxCallsEach calls) it makes calls
// of random kinds on random keys, each through the next node in turn
// (trying last, for avoidFor, a node that failed an attempt), retrying a
// failed attempt on the following nodes, and returns every attempt.
// Every value it writes is unique: "w<worker>-<call>".
func (r *chaosRun) work(w int, stop <-chan struct{}) []histOp {
	rng := rand.New(rand.NewPCG(uint64(w), 1))
	avoid := map[string]time.Time{} // node ID -> until when
	var ops []histOp
	for seq := range maxCallsEach {
		select {
		case <-stop:
			return ops
		default:
		}
		kind, k := opGet, rng.IntN(chaosKeys)
		switch x := rng.IntN(10); {
		case x >= 9:
			kind = opDelete
		case x >= 5:
			kind = opSet
		}
		ts := *r.targets.Load()
		if rng.IntN(10) < batchShare {
			keys := rng.Perm(chaosKeys)[:2+rng.IntN(chaosBatchMax-1)]
			ops = append(ops, r.workBatch(w, seq, kind, keys, ts, avoid)...)
			r.calls.Add(1)
			continue
		}
		for attempt := range callAttempts {
			tg := nextTarget(ts, w+seq+attempt, avoid)
			op := r.call(tg, w, kind, chaosKey(k), fmt.Sprintf("w%d-%d", w, seq))
			op.Final = op.Outcome != outError || attempt == callAttempts-1
			ops = append(ops, op)
			if op.Outcome == outError {
				avoid[tg.id] = time.Now().Add(avoidFor)
			}
			if op.Final {
				if kind == opSet && op.Outcome == outOK {
					r.ackedSets[k].Add(1)
				}
				break
			}
			time.Sleep(retryBackoff * time.Duration(attempt+1))
		}
		r.calls.Add(1)
	}
	return ops
}

// workBatch is one batch call of worker w: kind on keys (distinct), each
// key one operation of the history with the batch's call and return
// times. Keys that failed are retried together on the following nodes,
// as a single call is.
func (r *chaosRun) workBatch(w, seq int, kind opKind, keys []int, ts []chaosTarget, avoid map[string]time.Time) []histOp {
	var ops []histOp
	value := fmt.Sprintf("w%d-%d", w, seq)
	for attempt := range callAttempts {
		tg := nextTarget(ts, w+seq+attempt, avoid)
		var retry []int
		for i, op := range r.callBatch(tg, w, kind, keys, value) {
			op.Final = op.Outcome != outError || attempt == callAttempts-1
			ops = append(ops, op)
			if op.Outcome == outError {
				retry = append(retry, keys[i])
			}
			if op.Final && kind == opSet && op.Outcome == outOK {
				r.ackedSets[keys[i]].Add(1)
			}
		}
		if len(retry) == 0 || attempt == callAttempts-1 {
			break
		}
		avoid[tg.id] = time.Now().Add(avoidFor)
		keys = retry
		time.Sleep(retryBackoff * time.Duration(attempt+1))
	}
	return ops
}

// callBatch makes one attempt of worker w's batch call on tg and records
// each key's answer as an operation.
func (r *chaosRun) callBatch(tg chaosTarget, w int, kind opKind, keys []int, value string) []histOp {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := tg.clients[w%2]
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = chaosKey(k)
	}
	call := r.now()
	var errs []*distcachev1.KeyError
	var values [][]byte
	var err error
	switch kind {
	case opGet:
		var res *connect.Response[distcachev1.GetManyResponse]
		if res, err = c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: chaosGroup, Keys: names})); err == nil {
			for _, x := range res.Msg.GetResults() {
				errs, values = append(errs, x.GetError()), append(values, x.GetValue())
			}
		}
	case opSet:
		entries := make([]*distcachev1.SetEntry, len(names))
		for i, n := range names {
			entries[i] = &distcachev1.SetEntry{Key: n, Value: []byte(value)}
		}
		var res *connect.Response[distcachev1.SetManyResponse]
		if res, err = c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: chaosGroup, Entries: entries})); err == nil {
			for _, x := range res.Msg.GetResults() {
				errs = append(errs, x.GetError())
			}
		}
	case opDelete:
		var res *connect.Response[distcachev1.DeleteManyResponse]
		if res, err = c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: chaosGroup, Keys: names})); err == nil {
			for _, x := range res.Msg.GetResults() {
				errs = append(errs, x.GetError())
			}
		}
	}
	ret := r.now()
	if err == nil && len(errs) != len(keys) {
		err = fmt.Errorf("%d results for %d keys", len(errs), len(keys))
	}
	ops := make([]histOp, len(keys))
	for i, name := range names {
		op := histOp{Worker: w, Node: tg.id, Kind: kind, Key: name, Call: call, Return: ret, Batch: true}
		if kind == opSet {
			op.Value = value
		}
		switch {
		case err != nil:
			op.Outcome, op.Err = outError, shortErr(err)
		case errs[i] == nil:
			op.Outcome = outOK
			if kind == opGet {
				op.Value = string(values[i])
			}
		case kind == opGet && errs[i].GetCode() == "not_found":
			op.Outcome = outNotFound
		default:
			op.Outcome, op.Err = outError, errs[i].GetCode()+": "+errs[i].GetMessage()
		}
		ops[i] = op
	}
	return ops
}

// nextTarget returns ts[i], or the first target after it that the worker
// does not avoid (one that failed an attempt lately), as a client would;
// ts[i] if it avoids them all.
func nextTarget(ts []chaosTarget, i int, avoid map[string]time.Time) chaosTarget {
	now := time.Now()
	for j := range ts {
		if tg := ts[(i+j)%len(ts)]; now.After(avoid[tg.id]) {
			return tg
		}
	}
	return ts[i%len(ts)]
}

// call makes one attempt of worker w's call on tg and records it.
func (r *chaosRun) call(tg chaosTarget, w int, kind opKind, key, value string) histOp {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := tg.clients[w%2]
	op := histOp{Worker: w, Node: tg.id, Kind: kind, Key: key, Call: r.now()}
	var err error
	switch kind {
	case opGet:
		var res *connect.Response[distcachev1.GetResponse]
		res, err = c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: chaosGroup, Key: key}))
		if err == nil {
			op.Value = string(res.Msg.GetValue())
		}
	case opSet:
		op.Value = value
		_, err = c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: chaosGroup, Key: key, Value: []byte(value)}))
	case opDelete:
		_, err = c.Delete(ctx, connect.NewRequest(&distcachev1.DeleteRequest{Group: chaosGroup, Key: key}))
	}
	op.Return = r.now()
	switch {
	case err == nil:
		op.Outcome = outOK
	case kind == opGet && connect.CodeOf(err) == connect.CodeNotFound && !strings.Contains(err.Error(), "unknown group"):
		op.Outcome = outNotFound
	default:
		op.Outcome, op.Err = outError, shortErr(err)
	}
	return op
}

// shortErr is err's Connect code and the first line of its message, cut.
func shortErr(err error) string {
	s := connect.CodeOf(err).String() + ": " + err.Error()
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// faults injects the faults in order, waiting on events between them.
func (r *chaosRun) faults(t *testing.T) {
	r.dwell(t, dwellCalls)

	n4 := r.newNode("node4")
	r.phase("join", "node4 starts")
	r.launch(t, n4)
	n4.waitServing(t)
	r.nodes = append(r.nodes, n4)
	r.setTargets(r.nodes)
	r.converge(t, r.nodes, "every ring has node4")
	r.dwell(t, dwellCalls)

	n2 := byID(r.nodes, "node2")
	r.phase("sigterm", "SIGTERM node2")
	n2.kill(t, syscall.SIGTERM)
	r.waitExit(t, n2)
	r.converge(t, alive(r.nodes, n2), "the rings dropped node2")
	r.dwell(t, dwellCalls)
	r.phase("sigterm-restart", "node2 starts again (same ID, address, database)")
	r.restart(t, n2)

	killed, owned := r.busiest(t, alive(r.nodes, n2))
	r.phase("sigkill", fmt.Sprintf("SIGKILL %s, owner of keys %v", killed.id, owned))
	killed.kill(t, syscall.SIGKILL)
	r.waitExit(t, killed)
	r.converge(t, alive(r.nodes, killed), "the rings dropped "+killed.id+" (its lease expired)")
	r.dwellSets(t, owned, 20)
	r.phase("sigkill-restart", killed.id+" starts again on its database")
	r.restart(t, killed)

	r.freezeNode(t, alive(r.nodes, killed))

	r.freezeEtcd(t)

	r.phase("settle", "no fault")
	r.dwell(t, 2*dwellCalls)
}

// restart starts n again with its ID, address and database and waits
// until every ring has it and dwellCalls more calls were made.
func (r *chaosRun) restart(t *testing.T, n *clusterNode) {
	t.Helper()
	r.launch(t, n)
	n.waitServing(t)
	r.converge(t, r.nodes, "every ring has "+n.id+" again")
	r.dwell(t, dwellCalls)
}

// freezeNode freezes the node of candidates that owns the most keys with
// SIGSTOP until the others dropped it and made calls without it, and
// longer than its lease; then it thaws it and waits until it registered
// again and every ring has it.
func (r *chaosRun) freezeNode(t *testing.T, candidates []*clusterNode) {
	t.Helper()
	n, owned := r.busiest(t, candidates)
	regs := n.countLines("registered in etcd again")
	r.phase("sigstop-node", fmt.Sprintf("SIGSTOP %s, owner of keys %v", n.id, owned))
	frozen := n.kill(t, syscall.SIGSTOP)
	r.t.Cleanup(func() { _ = n.cmd.Process.Signal(syscall.SIGCONT) }) // before its stop
	r.converge(t, alive(r.nodes, n), "the rings dropped frozen "+n.id)
	r.dwell(t, dwellCalls/2) // the others serve its keys
	r.until(t, frozen.Add(chaosLease+time.Second))
	r.phase("sigcont-node", "SIGCONT "+n.id)
	n.kill(t, syscall.SIGCONT)
	r.waitLines(t, n, "registered in etcd again", regs+1)
	r.converge(t, r.nodes, "every ring has "+n.id+" again")
	r.dwell(t, dwellCalls)
}

// freezeEtcd freezes etcd with SIGSTOP for longer than the lease TTL, so
// every node's keep-alive stops; thaws it, which expires every lease at
// once; and waits until each node registered again and the rings agree.
func (r *chaosRun) freezeEtcd(t *testing.T) {
	t.Helper()
	regs := make([]int, len(r.nodes))
	for i, n := range r.nodes {
		regs[i] = n.countLines("registered in etcd again")
	}
	r.phase("sigstop-etcd", "SIGSTOP etcd")
	frozen := time.Now()
	r.etcd.signal(t, syscall.SIGSTOP)
	r.t.Cleanup(func() { _ = r.etcd.cmd.Process.Signal(syscall.SIGCONT) }) // before the nodes stop
	r.until(t, frozen.Add(chaosLease+time.Second))
	r.phase("sigcont-etcd", "SIGCONT etcd")
	r.etcd.signal(t, syscall.SIGCONT)
	for i, n := range r.nodes {
		r.waitLines(t, n, "registered in etcd again", regs[i]+1)
	}
	r.converge(t, r.nodes, "every node registered again")
	r.dwell(t, dwellCalls)
}

// remaining returns what is left of chaosBudget, failing t when nothing is.
func (r *chaosRun) remaining(t *testing.T) time.Duration {
	t.Helper()
	left := chaosBudget - time.Since(r.start)
	if left <= 0 {
		t.Fatalf("the run took more than its budget of %v", chaosBudget)
	}
	return left
}

// converge waits until every ring of nodes lists exactly nodes.
func (r *chaosRun) converge(t *testing.T, nodes []*clusterNode, what string) {
	t.Helper()
	d := waitConverged(t, nodes, ids(nodes...), time.Now(), min(settleMax, r.remaining(t)))
	r.note("%s (rings agreed after %v)", what, d.Round(time.Millisecond))
}

// dwell waits until the workers made n more calls, or dwellMax passed.
func (r *chaosRun) dwell(t *testing.T, n int64) {
	t.Helper()
	from, began := r.calls.Load(), time.Now()
	deadline := began.Add(min(dwellMax, r.remaining(t)))
	for r.calls.Load()-from < n && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	r.note("%d calls in %v", r.calls.Load()-from, time.Since(began).Round(time.Millisecond))
}

// dwellSets waits until n more Sets of keys were acknowledged, or
// dwellMax passed.
func (r *chaosRun) dwellSets(t *testing.T, keys []int, n int64) {
	t.Helper()
	count := func() (c int64) {
		for _, k := range keys {
			c += r.ackedSets[k].Load()
		}
		return c
	}
	from, began := count(), time.Now()
	deadline := began.Add(min(dwellMax, r.remaining(t)))
	for count()-from < n && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	r.note("%d acknowledged Sets of its keys in %v", count()-from, time.Since(began).Round(time.Millisecond))
}

// until waits until at: the length of a freeze, which is the fault.
func (r *chaosRun) until(t *testing.T, at time.Time) {
	t.Helper()
	if d := time.Until(at); d > 0 {
		time.Sleep(min(d, r.remaining(t)))
	}
}

// waitExit waits until n's process has exited.
func (r *chaosRun) waitExit(t *testing.T, n *clusterNode) {
	t.Helper()
	select {
	case <-n.done:
		r.note("%s exited with code %d", n.id, n.code)
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not exit within %v", n.id, stopTimeout)
	}
}

// waitLines waits until n's stderr has at least want lines with sub.
func (r *chaosRun) waitLines(t *testing.T, n *clusterNode, sub string, want int) {
	t.Helper()
	deadline := time.Now().Add(min(settleMax, r.remaining(t)))
	for n.countLines(sub) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines with %q, want %d", n.id, n.countLines(sub), sub, want)
		}
		time.Sleep(pollEvery)
	}
	r.note("%s: %s", n.id, sub)
}

// busiest returns the node of candidates that owns the most keys, as the
// first of them sees it, and the indexes of its keys.
func (r *chaosRun) busiest(t *testing.T, candidates []*clusterNode) (*clusterNode, []int) {
	t.Helper()
	owned := map[string][]int{}
	for k := range chaosKeys {
		id := owner(t, candidates[0], chaosKey(k))
		owned[id] = append(owned[id], k)
	}
	best := candidates[0]
	for _, n := range candidates[1:] {
		if len(owned[n.id]) > len(owned[best.id]) {
			best = n
		}
	}
	return best, owned[best.id]
}

// phaseStats are the counts of one phase.
type phaseStats struct {
	calls, errLeft, stale, lost, phantom int
}

// report checks history, logs what it found by phase with the fault
// timeline, keeps the history and porcupine's visualization when it found
// anything, and fails t where a phase went over its budget.
func (r *chaosRun) report(t *testing.T, history []histOp) {
	began := time.Now()
	anomalies := findAnomalies(history)
	lin := checkLinearizable(history, checkTimeout)
	r.note("history checked in %v", time.Since(began).Round(time.Millisecond))

	stats := map[string]*phaseStats{}
	for _, p := range r.phases() {
		stats[p.phase] = &phaseStats{}
	}
	for _, o := range history {
		s := stats[r.phaseAt(o.Call)]
		if o.Final {
			s.calls++
		}
		if o.Final && o.Outcome == outError {
			s.errLeft++
		}
	}
	for _, a := range anomalies {
		s := stats[r.phaseAt(a.read.Call)]
		switch a.kind {
		case staleRead:
			s.stale++
		case lostWrite:
			s.lost++
		default:
			s.phantom++
		}
	}

	var b strings.Builder
	r.writeSummary(&b, history, anomalies, lin, stats)
	t.Log(b.String())
	r.keep(t, history, lin)

	for _, p := range r.phases() {
		s, budget := stats[p.phase], budgetOf(p.phase)
		if s.stale > budget.stale || s.lost > budget.lost || s.phantom > 0 {
			t.Errorf("phase %s: %d stale reads, %d lost acknowledged writes, %d phantom reads; allowed %d, %d, 0",
				p.phase, s.stale, s.lost, s.phantom, budget.stale, budget.lost)
		}
	}
	if lin.result == porcupine.Illegal && allBudgetsZero() {
		t.Errorf("porcupine: history not linearizable (keys %v)", lin.illegal)
	}
	if c := countOps(history); c[opGet].ok == 0 || c[opSet].ok == 0 || c[opDelete].ok == 0 {
		t.Errorf("a kind of call never succeeded: get %+v, set %+v, delete %+v", *c[opGet], *c[opSet], *c[opDelete])
	}
}

// allBudgetsZero reports whether no phase may show any anomaly, so the
// whole history must be linearizable.
func allBudgetsZero() bool {
	for _, p := range phaseBudgets {
		if p.stale != 0 || p.lost != 0 {
			return false
		}
	}
	return true
}

// writeSummary writes the report: calls by kind, anomalies by phase, the
// first anomalies, porcupine's verdict and the timeline.
func (r *chaosRun) writeSummary(b *strings.Builder, history []histOp, anomalies []anomaly, lin linResult, stats map[string]*phaseStats) {
	counts := countOps(history)
	total := 0
	for _, c := range counts {
		total += c.ok + c.notFound + c.errLeft
	}
	fmt.Fprintf(b, "consistency: %d calls (%d attempts) by %d workers on %d keys over %s\n",
		total, len(history), chaosWorkers, chaosKeys, fmtNanos(r.now()))
	fmt.Fprintf(b, "  %-7s %7s %9s %17s %8s\n", "kind", "ok", "not found", "errors left", "retried")
	for _, k := range []opKind{opGet, opSet, opDelete} {
		c := counts[k]
		fmt.Fprintf(b, "  %-7s %7d %9d %17d %8d\n", k, c.ok, c.notFound, c.errLeft, c.retried)
	}
	batched := 0
	for _, o := range history {
		if o.Batch && o.Final {
			batched++
		}
	}
	fmt.Fprintf(b, "  of the calls, %d were keys of batches (GetMany, SetMany, DeleteMany)\n", batched)
	fmt.Fprintf(b, "  %-16s %8s %6s %6s %6s %8s %6s\n", "phase", "from", "calls", "stale", "lost", "phantom", "errors")
	sum := phaseStats{}
	for _, p := range r.phases() {
		s := stats[p.phase]
		fmt.Fprintf(b, "  %-16s %8s %6d %6d %6d %8d %6d\n", p.phase, fmtNanos(p.at), s.calls, s.stale, s.lost, s.phantom, s.errLeft)
		sum.calls, sum.stale, sum.lost, sum.phantom, sum.errLeft = sum.calls+s.calls, sum.stale+s.stale, sum.lost+s.lost, sum.phantom+s.phantom, sum.errLeft+s.errLeft
	}
	fmt.Fprintf(b, "  %-16s %8s %6d %6d %6d %8d %6d\n", "total", "", sum.calls, sum.stale, sum.lost, sum.phantom, sum.errLeft)
	for i, a := range anomalies {
		if i == showAnomalies {
			fmt.Fprintf(b, "  ... and %d more anomalies\n", len(anomalies)-i)
			break
		}
		fmt.Fprintf(b, "  [%s] %v\n", r.phaseAt(a.read.Call), a)
	}
	fmt.Fprintf(b, "porcupine (linearizability, per key, %v each): %v", checkTimeout, lin.result)
	if len(lin.illegal) > 0 {
		fmt.Fprintf(b, "; not linearizable: %v", lin.illegal)
	}
	if len(lin.unknown) > 0 {
		fmt.Fprintf(b, "; timed out: %v", lin.unknown)
	}
	for _, n := range r.nodes {
		select {
		case <-n.done:
			fmt.Fprintf(b, "\n%s is down at the end (exit code %d; its stderr is logged if the test fails)", n.id, n.code)
		default:
		}
	}
	b.WriteString("\ntimeline:\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.timeline {
		if e.phase != "" {
			fmt.Fprintf(b, "  %8s [%s] %s\n", fmtNanos(e.at), e.phase, e.what)
		} else {
			fmt.Fprintf(b, "  %8s   %s\n", fmtNanos(e.at), e.what)
		}
	}
}

// phases returns the events that started a phase, in order.
func (r *chaosRun) phases() []chaosEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.timeline), func(e chaosEvent) bool { return e.phase == "" })
}

// phaseAt returns the phase the run was in at time at.
func (r *chaosRun) phaseAt(at int64) string {
	ps := r.phases()
	name := ps[0].phase
	for _, p := range ps {
		if p.at <= at {
			name = p.phase
		}
	}
	return name
}

// keep writes the history (JSON lines) and, if porcupine found a key not
// linearizable, its visualization with the phases marked, to
// $DISTCACHE_ARTIFACTS or a temporary directory kept when t fails.
func (r *chaosRun) keep(t *testing.T, history []histOp, lin linResult) {
	dir := os.Getenv("DISTCACHE_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "distcache-consistency-"); err != nil {
			t.Errorf("artifacts: %v", err)
			return
		}
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(dir)
			}
		})
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("artifacts: %v", err)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, o := range history {
		_ = enc.Encode(o) // a histOp always encodes
	}
	path := filepath.Join(dir, "consistency-history.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Errorf("artifacts: %v", err)
		return
	}
	t.Logf("history: %s", path)
	if lin.result != porcupine.Illegal {
		return
	}
	lin.info.AddAnnotations(r.phaseAnnotations())
	path = filepath.Join(dir, "consistency-"+lin.infoKey+".html")
	if err := porcupine.VisualizePath(kvModel, lin.info, path); err != nil {
		t.Errorf("porcupine visualization: %v", err)
		return
	}
	t.Logf("porcupine visualization of key %s: %s", lin.infoKey, path)
}

// phaseAnnotations marks each phase on porcupine's visualization.
func (r *chaosRun) phaseAnnotations() []porcupine.Annotation {
	ps := r.phases()
	out := make([]porcupine.Annotation, len(ps))
	end := r.now()
	for i := len(ps) - 1; i >= 0; i-- {
		out[i] = porcupine.Annotation{Tag: "faults", Start: ps[i].at, End: end, Description: ps[i].phase, Details: ps[i].what}
		end = ps[i].at
	}
	return out
}
