package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// Defaults of [EtcdConfig].
const (
	// DefaultEtcdPrefix is the default [EtcdConfig.Prefix].
	DefaultEtcdPrefix = "/distcache/members/"
	// DefaultLeaseTTL is the default [EtcdConfig.LeaseTTL].
	DefaultLeaseTTL = 3 * time.Second
	// DefaultDialTimeout is the default [EtcdConfig.DialTimeout].
	DefaultDialTimeout = 2 * time.Second
)

// EtcdConfig configures [NewEtcd].
type EtcdConfig struct {
	// Endpoints are the etcd client URLs (http://host:port). Required.
	Endpoints []string
	// Prefix is the key prefix that holds one record per member; a "/" is
	// appended if missing. Default [DefaultEtcdPrefix].
	Prefix string
	// Self is this node's record, stored as JSON under Prefix+Self.ID. ID
	// and Addr are required; a zero Since is set to the time of NewEtcd.
	Self Member
	// LeaseTTL is how long the record outlives a crash of this node. etcd
	// counts whole seconds: it is rounded up, and etcd may raise it to its
	// own minimum (1.5 election timeouts, 2s with etcd's defaults).
	// Default [DefaultLeaseTTL].
	LeaseTTL time.Duration
	// DialTimeout bounds each request to etcd: an attempt to register, to
	// list the members, and the revoke in Close. Default
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Logger receives one line per state change (lease lost, registered
	// again, watch broken, watch resumed, malformed record), never one per
	// retry. Default: discard.
	Logger *slog.Logger
}

// withDefaults validates c and fills in its defaults.
func (c EtcdConfig) withDefaults() (EtcdConfig, error) {
	switch {
	case len(c.Endpoints) == 0:
		return c, errors.New("cluster: etcd config: Endpoints is empty")
	case c.Self.ID == "":
		return c, errors.New("cluster: etcd config: Self.ID is empty")
	case c.Self.Addr == "":
		return c, fmt.Errorf("cluster: etcd config: Self.Addr of %q is empty", c.Self.ID)
	case c.LeaseTTL < 0:
		return c, fmt.Errorf("cluster: etcd config: LeaseTTL %v is negative", c.LeaseTTL)
	case c.DialTimeout < 0:
		return c, fmt.Errorf("cluster: etcd config: DialTimeout %v is negative", c.DialTimeout)
	}
	c.Endpoints = slices.Clone(c.Endpoints)
	if c.Prefix == "" {
		c.Prefix = DefaultEtcdPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Self.Since.IsZero() {
		c.Self.Since = time.Now().Round(0)
	}
	return c, nil
}

var _ Membership = (*Etcd)(nil)

// Etcd is a [Membership] kept in etcd: this node's record lives under a
// lease that the client keeps alive, and Watch follows the key prefix.
// If etcd becomes unreachable, watchers keep the last list they saw and
// the node registers again when etcd returns. Make one with [NewEtcd]; it
// is safe for concurrent use.
type Etcd struct {
	cfg    EtcdConfig
	log    *slog.Logger
	client *clientv3.Client
	key    string // Prefix + Self.ID
	record string // JSON of Self
	ttl    int64  // lease TTL asked for, in seconds

	ctx    context.Context // done once Close begins
	cancel context.CancelFunc
	loops  sync.WaitGroup // the keep-alive loop

	born    time.Time    // when e was made: aliveAt counts from it
	aliveAt atomic.Int64 // when etcd last confirmed our lease, in ns since born

	mu         sync.Mutex
	lease      clientv3.LeaseID // the lease our record is under
	registered int              // successful registrations so far (tests wait on it)
	last       []Member         // last list given to any watcher
	bad        map[string]int64 // malformed keys already logged, by mod revision

	closeOnce sync.Once
	closeErr  error
}

// NewEtcd connects to etcd, grants a lease, puts cfg.Self under it and
// keeps the lease alive until Close. It retries the first registration
// until it succeeds or ctx is done (each attempt bounded by
// cfg.DialTimeout), and then returns the error: pass a ctx with a deadline.
func NewEtcd(ctx context.Context, cfg EtcdConfig) (*Etcd, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	record, err := json.Marshal(cfg.Self)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode record of %q: %w", cfg.Self.ID, err)
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// Ping a silent connection so a partition is noticed (gRPC's floor
		// is 10s; etcd refuses pings more often than every 5s).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: cfg.DialTimeout,
		// gRPC's default reconnect back-off grows to 2 minutes: after an
		// outage that long nodes would not see etcd return for as long.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay: retryBackoffMin, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second,
			},
			MinConnectTimeout: cfg.DialTimeout,
		})},
		Logger: zap.NewNop(), // it logs every retry; we log state changes
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd client for %v: %w", cfg.Endpoints, err)
	}
	e := &Etcd{
		cfg:    cfg,
		log:    cfg.Logger.With("member", cfg.Self.ID),
		client: client,
		key:    cfg.Prefix + cfg.Self.ID,
		record: string(record),
		ttl:    max(1, int64((cfg.LeaseTTL+time.Second-1)/time.Second)),
		last:   []Member{cfg.Self},
		bad:    map[string]int64{},
		born:   time.Now(),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	kac, err := e.registerUntil(ctx)
	if err != nil {
		e.cancel()
		return nil, errors.Join(err, client.Close())
	}
	e.log.Info("cluster: registered in etcd", "key", e.key, "endpoints", cfg.Endpoints)
	e.loops.Go(func() { e.keepAlive(kac) })
	return e, nil
}

// register puts our record under a live lease (the last one if etcd still
// holds it, else a new one) and starts keeping the lease alive until e.ctx
// is done.
func (e *Etcd) register(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
	defer cancel()
	asked := time.Since(e.born)
	lease, err := e.renewLease(ctx)
	if err != nil {
		return nil, err
	}
	if lease == clientv3.NoLease {
		grant, err := e.client.Grant(ctx, e.ttl)
		if err != nil {
			return nil, fmt.Errorf("grant lease: %w", err)
		}
		lease = grant.ID
	}
	if _, err := e.client.Put(ctx, e.key, e.record, clientv3.WithLease(lease)); err != nil {
		return nil, fmt.Errorf("put %s: %w", e.key, err)
	}
	kac, err := e.client.KeepAlive(e.ctx, lease)
	if err != nil {
		return nil, fmt.Errorf("keep lease alive: %w", err)
	}
	e.mu.Lock()
	e.lease = lease
	e.registered++
	e.mu.Unlock()
	e.aliveAt.Store(int64(asked))
	return kac, nil
}

// renewLease refreshes our last lease and returns it if etcd still holds
// it, as it does when etcd itself was down: then peers never see the
// record go. It returns NoLease if there is no lease to renew.
func (e *Etcd) renewLease(ctx context.Context) (clientv3.LeaseID, error) {
	lease := e.currentLease()
	if lease == clientv3.NoLease {
		return lease, nil
	}
	_, err := e.client.KeepAliveOnce(ctx, lease)
	switch {
	case err == nil:
		return lease, nil
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return clientv3.NoLease, nil
	default:
		return clientv3.NoLease, fmt.Errorf("renew lease %x: %w", lease, err)
	}
}

// registerUntil calls register with back-off until it succeeds or ctx is
// done.
func (e *Etcd) registerUntil(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	var b retryBackoff
	for {
		started := time.Now()
		kac, err := e.register(ctx)
		if err == nil {
			return kac, nil
		}
		if b.wait(ctx, started) != nil {
			return nil, fmt.Errorf("cluster: register %q in etcd at %v: %w", e.cfg.Self.ID, e.cfg.Endpoints, err)
		}
	}
}

// keepAlive drains the keep-alive channel of our lease. The channel closes
// when the lease is lost (etcd said it expired, or did not answer for a
// TTL); then keepAlive registers again, with back-off, until it succeeds
// or Close begins.
func (e *Etcd) keepAlive(kac <-chan *clientv3.LeaseKeepAliveResponse) {
	for {
		for range kac {
			// The client sends a keep-alive every third of the TTL; the
			// answer arrives after etcd extended the lease.
			e.aliveAt.Store(int64(time.Since(e.born)))
		}
		if e.ctx.Err() != nil {
			return
		}
		old := e.currentLease()
		e.log.Warn("cluster: etcd lease keep-alive stopped (etcd unreachable or lease expired); registering again", "lease", old)
		var err error
		if kac, err = e.registerUntil(e.ctx); err != nil {
			return // closed
		}
		e.log.Info("cluster: registered in etcd again", "lease_kept", e.currentLease() == old)
	}
}

// Fresh reports whether etcd confirmed this node's lease within the last
// two thirds of its TTL, so that the others still count this node in. A
// node frozen for longer, or cut off from etcd, is not fresh: the others
// may have dropped it and taken over its keys.
func (e *Etcd) Fresh() bool {
	since := time.Since(e.born) - time.Duration(e.aliveAt.Load())
	return since < time.Duration(e.ttl)*time.Second*2/3
}

func (e *Etcd) currentLease() clientv3.LeaseID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lease
}

// Close implements [Membership.Close]: it stops the keep-alive loop and the
// watchers, revokes the lease (bounded by ctx and DialTimeout) so the
// others drop this node at once, and closes the client.
func (e *Etcd) Close(ctx context.Context) error { return e.close(ctx, true) }

// close stops e once; revoke false leaves the lease to expire, as a crash
// would.
func (e *Etcd) close(ctx context.Context, revoke bool) error {
	e.closeOnce.Do(func() {
		e.cancel()
		e.loops.Wait()
		var errs []error
		if revoke {
			rctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
			_, err := e.client.Revoke(rctx, e.currentLease())
			if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) { // gone is gone
				errs = append(errs, fmt.Errorf("cluster: revoke lease of %q: %w", e.cfg.Self.ID, err))
			}
			cancel()
		}
		if err := e.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("cluster: close etcd client: %w", err))
		}
		e.closeErr = errors.Join(errs...)
		e.log.Info("cluster: left etcd", "revoked", revoke, "err", e.closeErr)
	})
	return e.closeErr
}

// Watch implements [Membership.Watch]. It lists the prefix, then follows
// it from the listed revision; if the watch breaks (etcd unreachable, the
// revision compacted) it lists again with back-off. While etcd is
// unreachable fn is not called: the last list stands. If the first list
// fails (within DialTimeout), fn gets the last list any watcher of this
// Etcd saw, at least Self.
func (e *Etcd) Watch(ctx context.Context, fn func([]Member)) error {
	if e.ctx.Err() != nil {
		return ErrClosed
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.ctx, cancel)()
	w := &etcdWatch{e: e, fn: fn}
	w.run(wctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrClosed
}

// etcdWatch is the state of one Watch call.
type etcdWatch struct {
	e       *Etcd
	fn      func([]Member)
	records map[string]Member // valid records by key, as of the last event
	sent    []Member          // last list given to fn; nil before the first
	broken  bool              // whether the last attempt failed
}

func (w *etcdWatch) run(ctx context.Context) {
	var b retryBackoff
	for ctx.Err() == nil {
		started := time.Now()
		rev, err := w.list(ctx)
		if err == nil {
			err = w.follow(ctx, rev, &b)
		}
		if ctx.Err() != nil {
			return
		}
		if !w.broken {
			w.broken = true
			w.e.log.Warn("cluster: etcd watch broken; keeping the last members", "err", err)
		}
		if w.sent == nil {
			w.deliver(w.e.lastMembers()) // fn's first call waits no longer
		}
		_ = b.wait(ctx, started) // its only error is ctx's, which ends the loop
	}
}

// list reads every record under the prefix, calls fn, and returns the
// revision it read at.
func (w *etcdWatch) list(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, w.e.cfg.DialTimeout)
	defer cancel()
	resp, err := w.e.client.Get(ctx, w.e.cfg.Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("cluster: list %s: %w", w.e.cfg.Prefix, err)
	}
	if w.broken {
		w.broken = false
		w.e.log.Info("cluster: etcd watch resumed")
	}
	w.records = make(map[string]Member, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		w.put(kv)
	}
	w.deliver(w.e.membersOf(w.records))
	return resp.Header.Revision, nil
}

// follow applies the watch events after rev, one fn call per batch, until
// the watch ends.
func (w *etcdWatch) follow(ctx context.Context, rev int64, b *retryBackoff) error {
	prefix := w.e.cfg.Prefix
	wch := w.e.client.Watch(clientv3.WithRequireLeader(ctx), prefix,
		clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("cluster: watch %s: %w", prefix, err)
		}
		b.reset()
		for _, ev := range resp.Events {
			switch ev.Type {
			case clientv3.EventTypePut:
				w.put(ev.Kv)
			case clientv3.EventTypeDelete:
				delete(w.records, string(ev.Kv.Key))
			}
		}
		w.deliver(w.e.membersOf(w.records))
	}
	return fmt.Errorf("cluster: watch %s: channel closed", prefix)
}

// put records kv, or drops its key if the record is malformed.
func (w *etcdWatch) put(kv *mvccpb.KeyValue) {
	key := string(kv.Key)
	var m Member
	err := json.Unmarshal(kv.Value, &m)
	if err == nil && (m.ID != strings.TrimPrefix(key, w.e.cfg.Prefix) || m.Addr == "") {
		err = errors.New("ID does not match the key, or Addr is empty")
	}
	if err != nil {
		delete(w.records, key)
		w.e.malformed(kv, err)
		return
	}
	w.records[key] = m
}

// deliver calls fn with list unless it equals the last list sent.
func (w *etcdWatch) deliver(list []Member) {
	if w.sent != nil && sameMembers(w.sent, list) {
		return
	}
	w.sent = list
	w.e.mu.Lock()
	w.e.last = list
	w.e.mu.Unlock()
	w.fn(slices.Clone(list))
}

// membersOf returns Self and the records of the others, sorted by ID.
func (e *Etcd) membersOf(records map[string]Member) []Member {
	list := make([]Member, 0, len(records)+1)
	list = append(list, e.cfg.Self)
	for _, m := range records {
		if m.ID != e.cfg.Self.ID {
			list = append(list, m)
		}
	}
	return sortMembers(list)
}

// lastMembers returns the last list any watcher saw (at first, Self).
func (e *Etcd) lastMembers() []Member {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// malformed logs a bad record once per version of its key.
func (e *Etcd) malformed(kv *mvccpb.KeyValue, err error) {
	key := string(kv.Key)
	e.mu.Lock()
	seen := e.bad[key] == kv.ModRevision
	e.bad[key] = kv.ModRevision
	e.mu.Unlock()
	if !seen {
		e.log.Warn("cluster: ignoring malformed member record", "key", key, "err", err)
	}
}

// retryBackoff spaces attempts 100ms apart, doubling to 2s, each delay
// jittered down by up to half. The zero value is ready to use.
type retryBackoff struct{ next time.Duration }

const (
	retryBackoffMin = 100 * time.Millisecond
	retryBackoffMax = 2 * time.Second
)

// wait sleeps until the next delay has passed since the attempt that
// started at started, or until ctx is done and then returns its error. An
// attempt that waited out the delay itself (a request that timed out while
// etcd was down) is followed by the next at once.
func (b *retryBackoff) wait(ctx context.Context, started time.Time) error {
	if b.next == 0 {
		b.next = retryBackoffMin
	}
	d := b.next/2 + rand.N(b.next/2+1) - time.Since(started)
	b.next = min(2*b.next, retryBackoffMax)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *retryBackoff) reset() { b.next = 0 }
