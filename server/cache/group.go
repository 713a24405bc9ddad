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
)

// GroupTTL passed as the ttl of [Group.Set] means "the group's ttl".
const GroupTTL time.Duration = -1

// DefaultLoadTimeout is the deadline of one loader call when a [Config]
// sets none.
const DefaultLoadTimeout = 10 * time.Second

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
	cfg    Config
	total  int64     // the configured capacity; cfg.Capacity is the main store's share
	hot    *hotCache // nil without peers
	now    func() time.Time
	tracer trace.Tracer
	store  *store
	flight singleflight.Group
	reads  readBuffer
	met    *groupMetrics

	pmu     sync.Mutex // guards policy, pending, victims and every store write
	policy  Policy
	pending []Event
	victims []uint64
	cursor  int // where the fallback eviction looks next

	misses, negHits, loads, loadErrors atomic.Int64
	hotHits, peerFetches, peerErrors   atomic.Int64
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
	if cfg.TTL < 0 || cfg.NegativeTTL < 0 || cfg.LoadTimeout < 0 {
		return nil, fmt.Errorf("cache: group %q: durations must not be negative", cfg.Name)
	}
	if cfg.LoadTimeout == 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	if cfg.Loader == nil {
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
		cfg:    cfg,
		total:  total,
		hot:    hot,
		now:    o.now,
		tracer: o.tracer.Tracer("github.com/distcache/distcache/server/cache"),
		store:  newStore(),
		policy: cfg.Policy,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
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

// Get returns key's value. On a miss it asks the key's owner, or, when this
// node owns the key (or the owner cannot be reached), loads it from the
// group's source. A key the source does not have returns an error wrapping
// [ErrNotFound]; a failed load returns a [*LoadError].
func (g *Group) Get(ctx context.Context, key string) (Value, error) {
	return g.get(ctx, key, false)
}

// GetLocal answers as the key's owner: from the store, or by loading from
// the group's source; it never asks a peer. The peer service calls it.
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
	if e := g.store.get(key, h); e != nil && !g.expired(e) {
		g.reads.record(h, g.pmu.TryLock, g.drainLocked)
		if e.negative {
			g.negHits.Add(1)
			return Value{}, g.notFound(key)
		}
		g.store.shard(h).hits.Add(1)
		setSource(span, SourceLocal)
		return Value{Bytes: e.value, Expires: unixTime(e.expires), Source: SourceLocal}, nil
	}
	if !asOwner && g.hot != nil {
		if e := g.hot.get(key, g.now().UnixNano()); e != nil {
			g.hotHits.Add(1)
			setSource(span, SourceHot)
			return Value{Bytes: e.value, Expires: unixTime(e.expires), Source: SourceHot}, nil
		}
	}
	g.misses.Add(1)
	v, err := g.load(ctx, key, h, asOwner)
	if err != nil && span != nil && !errors.Is(err, ErrNotFound) {
		span.SetStatus(codes.Error, err.Error())
	}
	setSource(span, v.Source)
	return v, err
}

func setSource(span trace.Span, s Source) {
	if span != nil && s != 0 {
		span.SetAttributes(attribute.Int("distcache.source", int(s)))
	}
}

// load runs one load per key at a time; every caller waits for it with
// its own context, and the load itself is bounded by the group's timeout.
func (g *Group) load(ctx context.Context, key string, h uint64, asOwner bool) (Value, error) {
	ch := g.flight.DoChan(key, func() (any, error) { return g.loadOnce(ctx, key, h, asOwner) })
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

func (g *Group) loadOnce(ctx context.Context, key string, h uint64, asOwner bool) (Value, error) {
	// A flight that ended between our miss and this one may have stored it.
	if e := g.store.get(key, h); e != nil && !g.expired(e) {
		if e.negative {
			return Value{}, g.notFound(key)
		}
		return Value{Bytes: e.value, Expires: unixTime(e.expires), Source: SourceLocal}, nil
	}
	seq := g.store.shard(h).seq.Load()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.LoadTimeout)
	defer cancel()
	if !asOwner {
		if peer, ok := g.cfg.Peers.Pick(key); ok {
			if v, err, answered := g.fetch(ctx, peer, key, h); answered {
				return v, err
			}
			return g.loadForUnreachable(ctx, key, h)
		}
	}
	ctx, span := g.tracer.Start(ctx, "cache.Load", trace.WithAttributes(
		attribute.String("distcache.group", g.cfg.Name)))
	defer span.End()

	g.loads.Add(1)
	start := time.Now()
	l, err := g.cfg.Loader.Load(ctx, key)
	g.met.recordLoad(ctx, time.Since(start), err)
	switch {
	case errors.Is(err, ErrNotFound):
		if g.cfg.NegativeTTL > 0 {
			_ = g.insert(key, h, nil, g.expiry(g.cfg.NegativeTTL), true, &seq)
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
	// An entry too large for the group is served but not kept.
	_ = g.insert(key, h, l.Value, exp, false, &seq)
	return Value{Bytes: l.Value, Expires: unixTime(exp), Source: SourceLoader}, nil
}

func (g *Group) notFound(key string) error {
	return fmt.Errorf("group %q: key %q: %w", g.cfg.Name, key, ErrNotFound)
}

// Set stores value under key for ttl ([GroupTTL] for the group's ttl, zero
// for forever), on the key's owner. The group takes ownership of value. A
// write-through group writes the source first and changes nothing if that
// fails. An owner that cannot be reached is an error wrapping
// [ErrUnreachable]: writes are not taken in the owner's place.
func (g *Group) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if peer, ok := g.cfg.Peers.Pick(key); ok {
		g.dropHot(key)
		err := peer.Store(ctx, g.cfg.Name, key, value, ttl)
		g.peerFailed(peer, err)
		return err
	}
	return g.SetLocal(ctx, key, value, ttl)
}

// SetLocal stores value as the key's owner and tells the other nodes to
// drop their hot copies. The peer service calls it.
func (g *Group) SetLocal(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if entryCost(key, value) > g.cfg.Capacity {
		return fmt.Errorf("group %q: key %q: %d bytes: %w", g.cfg.Name, key, entryCost(key, value), ErrTooLarge)
	}
	if g.cfg.Writer != nil {
		if err := g.cfg.Writer.Write(ctx, key, value); err != nil {
			return &WriteError{Group: g.cfg.Name, Key: key, Err: err}
		}
	}
	if ttl < 0 {
		ttl = g.cfg.TTL
	}
	err := g.insert(key, g.store.hash(key), value, g.expiry(ttl), false, nil)
	g.flight.Forget(key)
	g.cfg.Peers.Invalidate(g.cfg.Name, key)
	return err
}

// Delete removes key on its owner. A write-through group deletes it from
// the source first and changes nothing if that fails.
func (g *Group) Delete(ctx context.Context, key string) error {
	if peer, ok := g.cfg.Peers.Pick(key); ok {
		g.dropHot(key)
		err := peer.Remove(ctx, g.cfg.Name, key)
		g.peerFailed(peer, err)
		return err
	}
	return g.DeleteLocal(ctx, key)
}

// DeleteLocal removes key as its owner and tells the other nodes to drop
// their hot copies. The peer service calls it.
func (g *Group) DeleteLocal(ctx context.Context, key string) error {
	if g.cfg.Writer != nil {
		if err := g.cfg.Writer.Remove(ctx, key); err != nil {
			return &WriteError{Group: g.cfg.Name, Key: key, Err: err}
		}
	}
	h := g.store.hash(key)
	g.pmu.Lock()
	g.store.shard(h).seq.Add(1)
	if e := g.store.peek(h); e != nil && e.key == key {
		g.store.remove(h)
		g.pending = append(g.pending, Event{Op: OpRemove, Hash: h})
		g.flushLocked()
	}
	g.pmu.Unlock()
	g.flight.Forget(key)
	g.cfg.Peers.Invalidate(g.cfg.Name, key)
	return nil
}

// Purge drops every entry and returns how many there were.
func (g *Group) Purge() int64 {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	var hashes []uint64
	g.store.each(func(h uint64, _ *entry) { hashes = append(hashes, h) })
	for i := range g.store.shards {
		g.store.shards[i].seq.Add(1)
	}
	for _, h := range hashes {
		if g.store.remove(h) != nil {
			g.pending = append(g.pending, Event{Op: OpRemove, Hash: h})
		}
	}
	g.flushLocked()
	if g.hot != nil {
		g.hot.purge()
	}
	return int64(len(hashes))
}

func (g *Group) expired(e *entry) bool {
	return e.expires != 0 && g.now().UnixNano() >= e.expires
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
