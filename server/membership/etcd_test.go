package membership

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// testEtcd is a single-node etcd embedded in the test, on loopback. It can
// be stopped and started again on the same ports and data directory.
type testEtcd struct {
	t         *testing.T
	dir       string
	clientURL url.URL
	peerURL   url.URL
	srv       *embed.Etcd
}

// startEtcd starts an embedded etcd for the test and returns its client
// endpoints and a func that stops it (also called when the test ends).
func startEtcd(t *testing.T) ([]string, func()) {
	e := newTestEtcd(t)
	return e.endpoints(), e.stop
}

func newTestEtcd(t *testing.T) *testEtcd {
	t.Helper()
	e := &testEtcd{t: t, dir: t.TempDir(), clientURL: freeURL(t), peerURL: freeURL(t)}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// freeURL returns an http URL on a loopback port that was free a moment ago.
func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

func (e *testEtcd) start() {
	e.t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = e.dir
	cfg.ListenClientUrls = []url.URL{e.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{e.clientURL}
	cfg.ListenPeerUrls = []url.URL{e.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{e.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// A fast election makes restarts quick and lowers etcd's minimum lease
	// TTL (1.5 election timeouts, rounded up to seconds) to 1s.
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		e.t.Fatalf("start etcd: %v", err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		e.t.Fatalf("etcd failed: %v", err)
	case <-time.After(10 * time.Second):
		srv.Close()
		e.t.Fatal("etcd not ready within 10s")
	}
	e.srv = srv
}

func (e *testEtcd) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
}

func (e *testEtcd) endpoints() []string { return []string{e.clientURL.String()} }

// adminClient is a plain etcd client for the test to look and meddle.
func adminClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newEtcdMember registers member id with the given lease TTL and closes it
// when the test ends.
func newEtcdMember(t *testing.T, endpoints []string, id string, ttl time.Duration) *Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := NewEtcd(ctx, EtcdConfig{
		Endpoints:   endpoints,
		Self:        Member{ID: id, Addr: id + ".test:7000"},
		LeaseTTL:    ttl,
		DialTimeout: 500 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatalf("NewEtcd(%s): %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close(%s): %v", id, err)
		}
	})
	return m
}

// crashEtcdMember stops m's loops and closes its client without revoking
// its lease, as a crash would.
func crashEtcdMember(m *Etcd) { _ = m.close(context.Background(), false) }

// minCallLen returns the length of the shortest list r got from call i on.
func minCallLen(r *memberRecorder, from int) int {
	calls := r.snapshot()
	n := -1
	for _, c := range calls[from:] {
		if n < 0 || len(c) < n {
			n = len(c)
		}
	}
	return n
}

func TestEtcdMembershipJoinLeave(t *testing.T) {
	ep, _ := startEtcd(t)
	const ttl = 2 * time.Second
	a := newEtcdMember(t, ep, "a", ttl)
	b := newEtcdMember(t, ep, "b", ttl)
	ra, _, _ := watchMembers(t, a)
	rb, _, _ := watchMembers(t, b)
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra, rb}, "a", "b")

	start := time.Now()
	c := newEtcdMember(t, ep, "c", ttl)
	registered := time.Since(start)
	rc, _, cdone := watchMembers(t, c)
	seen := waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra, rb, rc}, "a", "b", "c")
	t.Logf("join: NewEtcd took %v; all watchers saw c %v later", registered, seen)
	for _, m := range ra.snapshot()[len(ra.snapshot())-1] {
		if m.Addr != m.ID+".test:7000" || m.Since.IsZero() {
			t.Errorf("record %+v lacks its Addr or Since", m)
		}
	}

	start = time.Now()
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra, rb}, "a", "b")
	left := time.Since(start)
	t.Logf("leave: others dropped c %v after Close began (lease TTL %v)", left, ttl)
	if left >= ttl {
		t.Errorf("leave took %v, want < lease TTL %v: Close should revoke", left, ttl)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := cdone(); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch on the closed member returned %v, want ErrClosed", err)
	}
	if err := c.Watch(context.Background(), func([]Member) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close returned %v, want ErrClosed", err)
	}
}

func TestEtcdMembershipCrash(t *testing.T) {
	ep, _ := startEtcd(t)
	const ttl = time.Second
	a := newEtcdMember(t, ep, "a", ttl)
	b := newEtcdMember(t, ep, "b", ttl)
	c := newEtcdMember(t, ep, "c", ttl)
	ra, _, _ := watchMembers(t, a)
	rb, _, _ := watchMembers(t, b)
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra, rb}, "a", "b", "c")

	start := time.Now()
	crashEtcdMember(c)
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra, rb}, "a", "b")
	gone := time.Since(start)
	t.Logf("crash: others dropped c %v after it stopped (lease TTL %v)", gone, ttl)
	if gone > ttl+time.Second {
		t.Errorf("crash seen after %v, want within lease TTL + 1s", gone)
	}
}

func TestEtcdMembershipLeaseLost(t *testing.T) {
	ep, _ := startEtcd(t)
	admin := adminClient(t, ep)
	const ttl = time.Second
	a := newEtcdMember(t, ep, "a", ttl)
	c := newEtcdMember(t, ep, "c", ttl)
	ra, _, _ := watchMembers(t, a)
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra}, "a", "c")
	n := len(ra.snapshot())

	// etcd forgets c's lease, as after an outage longer than the TTL.
	old, regs := c.currentLease(), registrations(c)
	start := time.Now()
	if _, err := admin.Revoke(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, admin, c, regs)
	if c.currentLease() == old {
		t.Errorf("c registered again under its revoked lease")
	}
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra}, "a", "c")
	t.Logf("lease lost: c registered again and was seen %v after its lease was revoked (a saw %d lists meanwhile)",
		time.Since(start), len(ra.snapshot())-n)

	// Leaving with a lease etcd already dropped is not an error.
	if _, err := admin.Revoke(context.Background(), c.currentLease()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("Close after the lease was revoked: %v", err)
	}
}

func registrations(m *Etcd) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.registered
}

// waitRegistered waits until m has registered more than n times in all
// and its record is under its lease, and the lease is alive.
func waitRegistered(t *testing.T, admin *clientv3.Client, m *Etcd, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if registrations(m) > n && underLiveLease(admin, m) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not register again", m.cfg.Self.ID)
}

// underLiveLease reports whether m's record is under m's current lease,
// and etcd holds that lease.
func underLiveLease(admin *clientv3.Client, m *Etcd) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	lease := m.currentLease()
	resp, err := admin.Get(ctx, m.key)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease != int64(lease) {
		return false
	}
	ttl, err := admin.TimeToLive(ctx, lease)
	return err == nil && ttl.TTL >= 0 // whole seconds left; -1 if gone
}

func TestEtcdMembershipOutage(t *testing.T) {
	srv := newTestEtcd(t)
	ep := srv.endpoints()
	const ttl = time.Second
	ms := []*Etcd{newEtcdMember(t, ep, "a", ttl), newEtcdMember(t, ep, "b", ttl), newEtcdMember(t, ep, "c", ttl)}
	var recs []*memberRecorder
	for _, m := range ms {
		r, _, _ := watchMembers(t, m)
		recs = append(recs, r)
	}
	waitMemberIDs(t, 5*time.Second, recs, "a", "b", "c")
	from := make([]int, len(recs))
	for i, r := range recs {
		from[i] = len(r.snapshot()) - 1
	}
	var regs []int
	for _, m := range ms {
		regs = append(regs, registrations(m))
	}

	start := time.Now()
	srv.stop()
	t.Logf("outage: etcd stopped in %v", time.Since(start))
	// Longer than the TTL plus the client's 1s deadline check: every
	// member's keep-alive gives up on its lease.
	time.Sleep(3 * time.Second)
	late, _, _ := watchMembers(t, ms[0]) // a Watch begun during the outage
	waitMemberIDs(t, 3*time.Second, append([]*memberRecorder{late}, recs...), "a", "b", "c")
	for i, r := range recs {
		if n := minCallLen(r, from[i]); n != 3 {
			t.Errorf("watcher %d got a list of %d members during the outage", i, n)
		}
	}

	start = time.Now()
	srv.start()
	ready := time.Since(start)
	admin := adminClient(t, ep)
	for i, m := range ms {
		waitRegistered(t, admin, m, regs[i])
	}
	t.Logf("outage: etcd ready %v after restart; all members registered again %v after restart", ready, time.Since(start))

	// Leases not kept alive expire about a TTL after etcd's leader is
	// elected; every record must outlive that.
	time.Sleep(ttl + 1500*time.Millisecond)
	waitMemberIDs(t, 5*time.Second, append([]*memberRecorder{late}, recs...), "a", "b", "c")
	for _, m := range ms {
		if !underLiveLease(admin, m) {
			t.Errorf("%s's record is not under its live lease", m.cfg.Self.ID)
		}
	}
	for i, r := range recs {
		t.Logf("outage: watcher %d: shortest list since converging: %d members; %d calls", i, minCallLen(r, from[i]), len(r.snapshot())-from[i])
	}
}

func TestEtcdMembershipMalformed(t *testing.T) {
	ep, _ := startEtcd(t)
	admin := adminClient(t, ep)
	a := newEtcdMember(t, ep, "a", 2*time.Second)
	ra, _, _ := watchMembers(t, a)
	ctx := context.Background()
	for key, val := range map[string]string{
		"x": "not json",
		"y": `{"id":"z","addr":"z:1"}`, // ID is not the key's
		"v": `{"id":"v"}`,              // no Addr
	} {
		if _, err := admin.Put(ctx, DefaultEtcdPrefix+key, val); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Put(ctx, DefaultEtcdPrefix+"w", `{"id":"w","addr":"w:1"}`); err != nil {
		t.Fatal(err)
	}
	waitMemberIDs(t, 5*time.Second, []*memberRecorder{ra}, "a", "w")
	for _, c := range ra.snapshot() {
		for _, m := range c {
			if m.ID != "a" && m.ID != "w" {
				t.Errorf("watcher got malformed member %+v", m)
			}
		}
	}
}

func TestEtcdMembershipBadInput(t *testing.T) {
	self := Member{ID: "a", Addr: "a:1"}
	u := freeURL(t)
	unreachable := u.String() // nothing listens there
	tests := []struct {
		name string
		cfg  EtcdConfig
		want string
	}{
		{"no endpoints", EtcdConfig{Self: self}, "Endpoints is empty"},
		{"no ID", EtcdConfig{Endpoints: []string{unreachable}, Self: Member{Addr: "a:1"}}, "Self.ID is empty"},
		{"no Addr", EtcdConfig{Endpoints: []string{unreachable}, Self: Member{ID: "a"}}, "Self.Addr"},
		{"negative TTL", EtcdConfig{Endpoints: []string{unreachable}, Self: self, LeaseTTL: -time.Second}, "LeaseTTL"},
		{"unreachable", EtcdConfig{Endpoints: []string{unreachable}, Self: self}, "register \"a\" in etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const wait = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			start := time.Now()
			m, err := NewEtcd(ctx, tt.cfg)
			took := time.Since(start)
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatal("NewEtcd succeeded")
			}
			t.Logf("error after %v: %v", took, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if took > wait+time.Second {
				t.Errorf("NewEtcd took %v with a %v deadline", took, wait)
			}
		})
	}
}
