package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/distcache/distcache/sdk/policy/evict"
)

// GroupTTL passed as the ttl of [Group.Set] means "the group's ttl".
const GroupTTL time.Duration = -1

// DefaultLoadTimeout is the deadline of one loader call when a [Config]
// sets none.
const DefaultLoadTimeout = 10 * time.Second

// DefaultMaxLoads is [Config.MaxLoads]' default.
const DefaultMaxLoads = 64

// ErrTooManyLoads is returned when a load found no free slot within the
// group's load timeout: the source is slow and the group already has
// MaxLoads calls in flight.
var ErrTooManyLoads = errors.New("too many loads in flight")

// ErrTooLarge is returned by [Group.Set] for an entry larger than the
// group's whole capacity.
var ErrTooLarge = errors.New("entry larger than the group's capacity")

// Config describes one group.
type Config struct {
	// Name is the group's name.
	Name string
	// Capacity is the most bytes the group holds; it must be positive.
	Capacity int64
	// TTL is how long an entry lives; zero means forever.
	TTL time.Duration
	// NegativeTTL is how long a loader's not-found is remembered; zero
	// means it is not.
	NegativeTTL time.Duration
	// LoadTimeout is the deadline of one loader call; zero means
	// [DefaultLoadTimeout].
	LoadTimeout time.Duration
	// Loader loads misses; nil means [NoLoader].
	Loader Loader
	// Writer, when set, makes the group write-through.
	Writer Writer
	// Policy picks victims; nil means [NewLRU].
	Policy Policy
	// Peers finds the owners of keys on other nodes; nil means [NoPeers]
	// (this node owns every key). With peers, 1/[DefaultHotShare] of the
	// capacity holds hot copies of other nodes' keys.
	Peers Peers
	// MaxLoads bounds the loader calls in flight at once; a load waits for
	// a slot within its LoadTimeout, then fails with [ErrTooManyLoads].
	// Zero means [DefaultMaxLoads].
	MaxLoads int
	// Replicas is how many nodes keep each written key: its owner and the
	// next Replicas-1 distinct members of the ring. A write is
	// acknowledged once a majority of them keep it. Zero means 1.
	Replicas int
}

// Source says where [Group.Get] found a value.
type Source uint8

// The sources of a value.
const (
	SourceLocal  Source = 1 // this node's store
	SourceHot    Source = 2 // a hot copy of another node's key
	SourcePeer   Source = 3 // fetched from the owning node
	SourceLoader Source = 4 // loaded from the source just now
)

// Value is what [Group.Get] returns.
type Value struct {
	// Bytes is the value. It is shared with the cache: do not modify it.
	Bytes []byte
	// Expires is when the entry expires; zero means never.
	Expires time.Time
	// Source says where the value came from.
	Source Source
}

// Group is a named cache with its own capacity, ttl, source and policy.
// It is safe for concurrent use. Close stops its background work.
type Group struct {
	cfg       Config
	total     int64         // the configured capacity; cfg.Capacity is the main store's share
	hot       *hotCache     // nil without peers
	peers     bool          // whether cfg.Peers is a cluster's (not NoPeers)
	noLoader  bool          // the group has no source: Sets are its only values
	loadSlots chan struct{} // one token per loader call in flight
	clock     versionClock
	wlocks    writeLocks // orders a write-through group's writes per key; nil without a Writer
	leases    leases     // hot-copy leases this node granted as owner
	now       func() time.Time
	tracer    trace.Tracer
	store     *store
	flight    singleflight.Group
	reads     readBuffer
	met       *groupMetrics

	pmu    sync.Mutex   // guards rules, cursor and every store write
	rules  *evict.Rules // the policy, and its pending events
	cursor int          // where the fallback eviction looks next

	misses, negHits, loads, loadErrors atomic.Int64
	hotHits, peerFetches, peerErrors   atomic.Int64
	repairs, handoffs, dropped         atomic.Int64
	evictions, expirations, fallbacks  atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// NewGroup makes a group from cfg. It returns an error if cfg is invalid.
func NewGroup(cfg Config, opts ...Option) (*Group, error) {
	if cfg.Name == "" {
		return nil, errors.New("cache: group has no name")
	}
	if cfg.Capacity <= 0 {
		return nil, fmt.Errorf("cache: group %q: capacity %d must be positive", cfg.Name, cfg.Capacity)
	}
	if cfg.Replicas < 0 {
		return nil, fmt.Errorf("cache: group %q: replicas %d must not be negative", cfg.Name, cfg.Replicas)
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxLoads < 0 {
		return nil, fmt.Errorf("cache: group %q: max loads %d must not be negative", cfg.Name, cfg.MaxLoads)
	}
	if cfg.MaxLoads == 0 {
		cfg.MaxLoads = DefaultMaxLoads
	}
	if cfg.TTL < 0 || cfg.NegativeTTL < 0 || cfg.LoadTimeout < 0 {
		return nil, fmt.Errorf("cache: group %q: durations must not be negative", cfg.Name)
	}
	if cfg.LoadTimeout == 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	noLoader := cfg.Loader == nil
	if noLoader {
		cfg.Loader = NoLoader
	}
	if cfg.Policy == nil {
		cfg.Policy = NewLRU()
	}
	total := cfg.Capacity
	var hot *hotCache
	if cfg.Peers == nil {
		cfg.Peers = NoPeers
	} else if cfg.Peers != NoPeers {
		hot = newHotCache(cfg.Capacity / DefaultHotShare)
		cfg.Capacity -= hot.capacity
	}
	o := newOptions(opts)
	g := &Group{
		cfg:       cfg,
		total:     total,
		hot:       hot,
		peers:     cfg.Peers != NoPeers,
		noLoader:  noLoader,
		loadSlots: make(chan struct{}, cfg.MaxLoads),
		now:       o.now,
		tracer:    o.tracer.Tracer("github.com/distcache/distcache/server/cache"),
		store:     newStore(),
		rules:     evict.New(cfg.Policy, cfg.Capacity),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if cfg.Writer != nil {
		g.wlocks = newWriteLocks()
	}
	met, err := newGroupMetrics(o.meter, g)
	if err != nil {
		return nil, fmt.Errorf("cache: group %q: metrics: %w", cfg.Name, err)
	}
	g.met = met
	go g.sweepLoop(o.sweepInterval)
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.cfg.Name }

// Close stops the group's sweeper and unregisters its metrics. The group
// still answers calls after Close.
func (g *Group) Close() error {
	select {
	case <-g.stop:
		return nil
	default:
	}
	close(g.stop)
	<-g.done
	return g.met.close()
}

// Get returns key's value. A node answers from its own store only keys it
// owns under its current view of the ring (see [Peers]); other keys it
// asks their owner for (or, while the owner does not answer, its
// replicas), keeping hot copies under the owner's lease. A key the source
// does not have returns an error wrapping [ErrNotFound]; a failed load
// returns a [*LoadError].
func (g *Group) Get(ctx context.Context, key string) (Value, error) {
	return g.get(ctx, key, false)
}

// GetLocal answers as the key's owner: from the store, or by loading from
// the group's source; it never forwards to another owner. The peer service
// calls it.
func (g *Group) GetLocal(ctx context.Context, key string) (Value, error) {
	return g.get(ctx, key, true)
}

func (g *Group) get(ctx context.Context, key string, asOwner bool) (Value, error) {
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = g.tracer.Start(ctx, "cache.Get", trace.WithAttributes(
			attribute.String("distcache.group", g.cfg.Name)))
		defer span.End()
	}
	h := g.store.hash(key)
	owner, remote := g.route(key, asOwner)
	if v, err, hit := g.cached(key, h, remote); hit {
		setSource(span, v.Source)
		return v, err
	}
	g.misses.Add(1)
	v, err := g.load(ctx, key, h, owner, remote)
	if err != nil && span != nil && !errors.Is(err, ErrNotFound) {
		span.SetStatus(codes.Error, err.Error())
	}
	setSource(span, v.Source)
	return v, err
}

// route returns key's owner under the current ring, and remote false when
// this node answers it as owner (always, given asOwner).
func (g *Group) route(key string, asOwner bool) (Peer, bool) {
	if g.peers && !asOwner {
		return g.cfg.Peers.Owner(key)
	}
	return nil, false
}

// cached answers key without blocking when this node may: from its store
// (a key it owns, in an entry it trusts) or a hot copy (a key another node
// owns, under a live lease, while the view is certain). hit is false when
// the key needs a load or a fetch.
func (g *Group) cached(key string, h uint64, remote bool) (v Value, err error, hit bool) {
	if !remote {
		if e := g.store.get(key, h); e != nil && !e.tomb() && !g.expired(e) && g.trusted(e) {
			g.reads.record(h, g.pmu.TryLock, g.drainLocked)
			if e.negative() {
				g.negHits.Add(1)
				return Value{}, g.notFound(key), true
			}
			g.store.shard(h).hits.Add(1)
			return Value{Bytes: e.value(), Expires: unixTime(e.expires()), Source: SourceLocal}, nil, true
		}
	} else if g.hot != nil && g.cfg.Peers.View().Certain {
		if e := g.hot.get(key, h, g.now().UnixNano()); e != nil {
			g.hotHits.Add(1)
			return Value{Bytes: e.value(), Expires: unixTime(e.expires()), Source: SourceHot}, nil, true
		}
	}
	return Value{}, nil, false
}

// trusted reports whether e may be served without asking the key's other
// replicas: always on a node alone; in a cluster, when e was stored or
// checked in the current view and the view is certain and settled (see
// [View]). A group of one replica trusts its view even when uncertain or
// unsettled: it has no replica to ask, and reloading every key after every
// ring change would hammer its source.
func (g *Group) trusted(e *entry) bool {
	if !g.peers {
		return true
	}
	v := g.cfg.Peers.View()
	if g.cfg.Replicas == 1 {
		return e.epoch == v.Epoch
	}
	return e.epoch == v.Epoch && v.Certain && v.Settled
}

func setSource(span trace.Span, s Source) {
	if span != nil && s != 0 {
		span.SetAttributes(attribute.Int("distcache.source", int(s)))
	}
}

// load answers a miss. On the owner, one load per key runs at a time and
// every caller waits for it with its own context (the load itself is
// bounded by the group's timeout); a write forgets the flight, so no
// caller that arrives after a write is acknowledged gets an older answer.
// A node forwarding to the owner does not coalesce: a caller joining a
// fetch that began before a write the owner acknowledged since would get
// the old value, and the owner coalesces the load anyway.
func (g *Group) load(ctx context.Context, key string, h uint64, owner Peer, remote bool) (Value, error) {
	if remote {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.LoadTimeout)
		defer cancel()
		return g.forward(ctx, key, h, owner)
	}
	ch := g.flight.DoChan("o:"+key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.LoadTimeout)
		defer cancel()
		return g.ownerRead(ctx, key, h)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Value{}, r.Err
		}
		return r.Val.(Value), nil
	case <-ctx.Done():
		return Value{}, ctx.Err()
	}
}

// ownerRead answers a miss (or an entry not trusted in the current view)
// as the key's owner. A written key is looked up on its replicas too and
// the newest version wins, so an owner that just took over the key, or
// whose view was uncertain, answers what the last write left; anything
// else is loaded from the source.
func (g *Group) ownerRead(ctx context.Context, key string, h uint64) (Value, error) {
	view := g.cfg.Peers.View()
	seq := g.store.shard(h).seq.Load()
	e := g.store.get(key, h)
	if e != nil && g.expired(e) {
		e = nil
	}
	if e != nil && !e.tomb() && g.trusted(e) { // a flight that ended meanwhile stored it
		if e.negative() {
			return Value{}, g.notFound(key)
		}
		return Value{Bytes: e.value(), Expires: unixTime(e.expires()), Source: SourceLocal}, nil
	}
	if e != nil && e.tomb() && g.trusted(e) {
		if g.noLoader {
			return Value{}, g.notFound(key)
		}
	} else if g.peers && (e == nil || e.written()) {
		newest, err := g.newestRecord(ctx, key, e)
		if err != nil {
			return Value{}, err
		}
		if newest != nil {
			_, _ = g.insertRecord(h, *newest, view.Epoch)
			if !newest.Tomb {
				return Value{Bytes: newest.Value, Expires: newest.Expires, Source: SourceLocal}, nil
			}
			if g.noLoader {
				return Value{}, g.notFound(key)
			}
			seq = g.store.shard(h).seq.Load()
		}
	}
	return g.loadFromSource(ctx, key, h, seq, view.Epoch, true)
}

// loadFromSource calls the loader. keep stores what it returns.
func (g *Group) loadFromSource(ctx context.Context, key string, h uint64, seq, epoch uint64, keep bool) (Value, error) {
	ctx, span := g.tracer.Start(ctx, "cache.Load", trace.WithAttributes(
		attribute.String("distcache.group", g.cfg.Name)))
	defer span.End()

	select {
	case g.loadSlots <- struct{}{}:
	case <-ctx.Done():
		g.loadErrors.Add(1)
		err := fmt.Errorf("group %q: key %q: %d loads already in flight for %v: %w",
			g.cfg.Name, key, cap(g.loadSlots), g.cfg.LoadTimeout, ErrTooManyLoads)
		span.SetStatus(codes.Error, err.Error())
		return Value{}, err
	}
	g.loads.Add(1)
	start := time.Now()
	l, err := g.cfg.Loader.Load(ctx, key)
	<-g.loadSlots
	g.met.recordLoad(ctx, time.Since(start), err)
	switch {
	case errors.Is(err, ErrNotFound):
		if keep && g.cfg.NegativeTTL > 0 {
			_ = g.insert(key, h, nil, g.expiry(g.cfg.NegativeTTL), true, seq, epoch)
		}
		span.SetAttributes(attribute.Bool("distcache.not_found", true))
		return Value{}, g.notFound(key)
	case err != nil:
		g.loadErrors.Add(1)
		span.SetStatus(codes.Error, err.Error())
		return Value{}, &LoadError{Group: g.cfg.Name, Key: key, Err: err}
	}
	ttl := g.cfg.TTL
	if l.TTL > 0 {
		ttl = l.TTL
	}
	exp := g.expiry(ttl)
	if keep {
		// An entry too large for the group is served but not kept.
		_ = g.insert(key, h, l.Value, exp, false, seq, epoch)
	}
	return Value{Bytes: l.Value, Expires: unixTime(exp), Source: SourceLoader}, nil
}

func (g *Group) notFound(key string) error {
	return fmt.Errorf("group %q: key %q: %w", g.cfg.Name, key, ErrNotFound)
}

// Set stores value under key for ttl ([GroupTTL] for the group's ttl, zero
// for forever), on the key's owner. The group takes ownership of value. A
// write-through group writes the source first and changes nothing if that
// fails. An owner that cannot be reached is an error wrapping
// [ErrUnreachable]: no node takes a write in the owner's place.
func (g *Group) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if owner, remote := g.cfg.Peers.Owner(key); remote {
		return g.forwardWrite(owner, key, func() error { return owner.Store(ctx, g.cfg.Name, key, value, ttl) })
	}
	return g.SetLocal(ctx, key, value, ttl)
}

// SetLocal stores value as the key's owner: in its store and on its
// replicas, and it revokes every hot copy of the key before it returns.
// The peer service calls it.
func (g *Group) SetLocal(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := g.mayWrite(key); err != nil {
		return err
	}
	if entryCost(key, value) > g.cfg.Capacity {
		return fmt.Errorf("group %q: key %q: %d bytes: %w", g.cfg.Name, key, entryCost(key, value), ErrTooLarge)
	}
	if ttl < 0 {
		ttl = g.cfg.TTL
	}
	expires := unixTime(g.expiry(ttl))
	version, err := g.version(ctx, key, func() error { return g.cfg.Writer.Write(ctx, key, value, expires) })
	if err != nil {
		return err
	}
	return g.commit(ctx, Record{Key: key, Value: value, Expires: expires, Version: version})
}

// Delete removes key on its owner. A write-through group deletes it from
// the source first and changes nothing if that fails.
func (g *Group) Delete(ctx context.Context, key string) error {
	if owner, remote := g.cfg.Peers.Owner(key); remote {
		return g.forwardWrite(owner, key, func() error { return owner.Remove(ctx, g.cfg.Name, key) })
	}
	return g.DeleteLocal(ctx, key)
}

// DeleteLocal removes key as its owner, leaving a tombstone on its
// replicas so that no older record of the key comes back, and revokes
// every hot copy of the key before it returns. The peer service calls it.
func (g *Group) DeleteLocal(ctx context.Context, key string) error {
	if err := g.mayWrite(key); err != nil {
		return err
	}
	version, err := g.version(ctx, key, func() error { return g.cfg.Writer.Remove(ctx, key) })
	if err != nil {
		return err
	}
	return g.commit(ctx, Record{Key: key, Expires: g.now().Add(TombstoneTTL), Version: version, Tomb: true})
}

// version returns the version of a write of key, after writing it through
// to the source (with write) in a write-through group.
func (g *Group) version(ctx context.Context, key string, write func() error) (uint64, error) {
	if g.cfg.Writer == nil {
		return g.clock.next(), nil
	}
	v, err := g.writeThrough(ctx, key, write)
	if err != nil {
		return 0, &WriteError{Group: g.cfg.Name, Key: key, Err: err}
	}
	return v, nil
}

// mayWrite refuses a write as owner while this node's view is uncertain:
// the others may have dropped it and given its keys to another owner, so
// a write taken here could be lost or, seen here, later undone.
func (g *Group) mayWrite(key string) error {
	if g.peers && !g.cfg.Peers.View().Certain {
		return fmt.Errorf("group %q: key %q: this node cannot confirm its membership lease, so it takes no writes as owner: %w",
			g.cfg.Name, key, ErrNoQuorum)
	}
	return nil
}

// forwardWrite sends a write to the key's owner, or fails at once with
// [ErrUnreachable] while the owner is suspect.
func (g *Group) forwardWrite(owner Peer, key string, write func() error) error {
	if g.cfg.Peers.Suspect(owner) {
		g.peerErrors.Add(1)
		return fmt.Errorf("owner %s of key %q did not answer a moment ago: %w", owner.ID(), key, ErrUnreachable)
	}
	g.dropHot(key)
	err := write()
	g.peerFailed(owner, err)
	return err
}

// Purge drops every entry and returns how many there were.
func (g *Group) Purge() int64 {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	var hashes []uint64
	g.store.each(func(e *entry) { hashes = append(hashes, g.store.hash(e.key())) })
	for i := range g.store.shards {
		g.store.shards[i].seq.Add(1)
	}
	for _, h := range hashes {
		if g.store.remove(h) != nil {
			g.rules.Removed(h)
		}
	}
	g.flushLocked()
	if g.hot != nil {
		g.hot.purge()
	}
	return int64(len(hashes))
}

func (g *Group) expired(e *entry) bool {
	exp := e.expires()
	return exp != 0 && g.now().UnixNano() >= exp
}

func (g *Group) expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return g.now().Add(ttl).UnixNano()
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
