package api

import (
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// RateLimit is a token bucket per client of a group: a client may make
// Burst calls at once, and PerClient more each second after that. On a
// node that checks tokens ([Config.Tokens]) a client is its bearer token;
// otherwise, or for a call without one, it is its IP address (its /64
// network for IPv6): an unchecked token would give anyone a fresh bucket
// per call.
type RateLimit struct {
	// PerClient is the rate at which a client's bucket refills, in calls
	// per second; it must be > 0.
	PerClient float64
	// Burst is the size of a client's bucket; below 1 means PerClient
	// rounded up.
	Burst int
}

// rateLimitedProcedures are the calls that name a group and so count
// against its rate limit.
var rateLimitedProcedures = map[string]bool{
	distcachev1connect.CacheServiceGetProcedure:    true,
	distcachev1connect.CacheServiceSetProcedure:    true,
	distcachev1connect.CacheServiceDeleteProcedure: true,
	// A batch takes a token per key (at most the bucket's size, so a
	// batch larger than the burst is not refused for ever).
	distcachev1connect.CacheServiceGetManyProcedure:    true,
	distcachev1connect.CacheServiceSetManyProcedure:    true,
	distcachev1connect.CacheServiceDeleteManyProcedure: true,
}

// maxRateLimitClients bounds the buckets a node keeps, over all groups.
const maxRateLimitClients = 100_000

// maxRetryAfter caps the retry hint of a refused call.
const maxRetryAfter = 24 * time.Hour

// rateLimiter is an interceptor that refuses calls over their group's
// [RateLimit] with resource_exhausted, a Retry-After header and a
// google.rpc.RetryInfo detail. It is safe for concurrent use.
type rateLimiter struct {
	limits  map[string]RateLimit
	clients *limiterStore
	now     func() time.Time
	// byToken keys clients by bearer token: set when the node checks
	// tokens, so that only checked ones reach the limiter.
	byToken bool
	// allowed and refused count the calls of the limited groups, with
	// each group's attribute in attrs.
	allowed, refused metric.Int64Counter
	attrs            map[string]metric.MeasurementOption
}

// newRateLimiter checks limits, fills their default bursts and makes the
// interceptor's counters from mp (nil: no-op). byToken keys clients by
// their bearer token, which must have been checked before.
func newRateLimiter(limits map[string]RateLimit, byToken bool, mp metric.MeterProvider) (*rateLimiter, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	r := &rateLimiter{
		limits:  make(map[string]RateLimit, len(limits)),
		clients: newLimiterStore(maxRateLimitClients),
		now:     time.Now,
		byToken: byToken,
		attrs:   make(map[string]metric.MeasurementOption, len(limits)),
	}
	for group, l := range limits {
		if !(l.PerClient > 0) || math.IsInf(l.PerClient, 1) {
			return nil, fmt.Errorf("api: RateLimits[%q].PerClient must be > 0 and finite, not %g", group, l.PerClient)
		}
		if l.Burst < 1 {
			l.Burst = int(min(math.Ceil(l.PerClient), math.MaxInt32))
		}
		r.limits[group] = l
		r.attrs[group] = metric.WithAttributes(attribute.String("group", group))
	}
	m := mp.Meter("github.com/distcache/distcache/server/api")
	var err error
	if r.allowed, err = m.Int64Counter("distcache.ratelimit.allowed", metric.WithUnit("{call}"),
		metric.WithDescription("Calls to rate-limited groups let through.")); err != nil {
		return nil, err
	}
	if r.refused, err = m.Int64Counter("distcache.ratelimit.refused", metric.WithUnit("{call}"),
		metric.WithDescription("Calls refused for being over their group's rate limit.")); err != nil {
		return nil, err
	}
	return r, nil
}

// WrapUnary checks the rate limit of unary calls that name a group.
func (r *rateLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := r.check(ctx, req.Spec().Procedure, req.Header(), req.Peer().Addr, req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient is a no-op: the interceptor guards handlers only.
func (r *rateLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks the rate limit of each message received by
// a streaming call that names a group.
func (r *rateLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if !rateLimitedProcedures[conn.Spec().Procedure] {
			return next(ctx, conn)
		}
		return next(ctx, &rateLimitedConn{StreamingHandlerConn: conn, ctx: ctx, limiter: r})
	}
}

// rateLimitedConn checks each message it receives against its group's
// rate limit.
type rateLimitedConn struct {
	connect.StreamingHandlerConn
	ctx     context.Context
	limiter *rateLimiter
}

func (c *rateLimitedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return c.limiter.check(c.ctx, c.Spec().Procedure, c.RequestHeader(), c.Peer().Addr, msg)
}

// check takes a token from the bucket of the client (header, addr) in the
// group msg names, or returns the error refusing the call.
func (r *rateLimiter) check(ctx context.Context, procedure string, header http.Header, addr string, msg any) error {
	named, ok := msg.(interface{ GetGroup() string })
	if !ok || !rateLimitedProcedures[procedure] {
		return nil
	}
	group := named.GetGroup()
	limit, ok := r.limits[group]
	if !ok {
		return nil
	}
	now := r.now()
	lim := r.clients.limiter(limiterKey{group: group, client: r.clientKey(header, addr)}, limit, now)
	if lim.AllowN(now, min(batchSize(msg), limit.Burst)) {
		r.allowed.Add(ctx, 1, r.attrs[group])
		return nil
	}
	r.refused.Add(ctx, 1, r.attrs[group])
	return errRateLimited(group, limit, retryAfter(lim, now))
}

// batchSize is how many keys msg carries: one, or a batch's keys.
func batchSize(msg any) int {
	switch m := msg.(type) {
	case *distcachev1.GetManyRequest:
		return max(len(m.GetKeys()), 1)
	case *distcachev1.SetManyRequest:
		return max(len(m.GetEntries()), 1)
	case *distcachev1.DeleteManyRequest:
		return max(len(m.GetKeys()), 1)
	}
	return 1
}

// clientKey names the caller: a hash of its bearer token (so the node
// keeps no tokens) if r.byToken, else its IP address without the port, or
// for IPv6 its /64 network, which one host can fill with addresses.
func (r *rateLimiter) clientKey(header http.Header, addr string) string {
	if token, ok := strings.CutPrefix(header.Get("Authorization"), "Bearer "); r.byToken && ok && token != "" {
		sum := sha256.Sum256([]byte(token))
		return "t" + string(sum[:16])
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is6() && !ip.Is4In6() {
		if p, err := ip.Prefix(64); err == nil {
			return "n" + p.String()
		}
	}
	return "a" + addr
}

// retryAfter is how long until lim has a token again, at most
// [maxRetryAfter].
func retryAfter(lim *rate.Limiter, now time.Time) time.Duration {
	secs := (1 - lim.TokensAt(now)) / float64(lim.Limit())
	return time.Duration(max(min(secs, maxRetryAfter.Seconds()), 0) * float64(time.Second))
}

// errRateLimited is the resource_exhausted of a call over group's limit,
// with the wait as a Retry-After header (whole seconds, rounded up) and as
// a google.rpc.RetryInfo detail.
func errRateLimited(group string, limit RateLimit, wait time.Duration) error {
	err := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"over the rate limit of group %q (%g calls per second per client, burst %d): retry in %s",
		group, limit.PerClient, limit.Burst, wait.Round(time.Millisecond)))
	err.Meta().Set("Retry-After", strconv.FormatInt(max(int64(math.Ceil(wait.Seconds())), 1), 10))
	if detail, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		err.AddDetail(detail)
	}
	return err
}

// limiterKey names one client's bucket in one group.
type limiterKey struct {
	group, client string
}

// limiterShards splits the store so concurrent calls rarely share a lock.
const limiterShards = 16

// limiterStore keeps a [rate.Limiter] per key, at most max of them: past
// that it forgets the least recently used. It also forgets, as new keys
// come, the least recently used ones whose bucket is full again, which is
// lossless: a new bucket starts full. It is safe for concurrent use.
type limiterStore struct {
	seed     maphash.Seed
	perShard int
	shards   [limiterShards]limiterShard
}

// limiterShard is one lock's share of a limiterStore: its map, and its
// keys from most to least recently used.
type limiterShard struct {
	mu    sync.Mutex
	byKey map[limiterKey]*list.Element // of *limiterEntry
	lru   list.List
}

type limiterEntry struct {
	key limiterKey
	lim *rate.Limiter
}

// newLimiterStore returns a store of at most capacity limiters (at least
// one per shard).
func newLimiterStore(capacity int) *limiterStore {
	s := &limiterStore{seed: maphash.MakeSeed(), perShard: max(capacity/limiterShards, 1)}
	for i := range s.shards {
		s.shards[i].byKey = map[limiterKey]*list.Element{}
	}
	return s
}

// limiter returns k's limiter, made with limit if k has none.
func (s *limiterStore) limiter(k limiterKey, limit RateLimit, now time.Time) *rate.Limiter {
	sh := &s.shards[maphash.Comparable(s.seed, k)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.byKey[k]; ok {
		sh.lru.MoveToFront(e)
		return e.Value.(*limiterEntry).lim
	}
	sh.dropFull(now)
	if sh.lru.Len() >= s.perShard {
		sh.remove(sh.lru.Back())
	}
	lim := rate.NewLimiter(rate.Limit(limit.PerClient), limit.Burst)
	sh.byKey[k] = sh.lru.PushFront(&limiterEntry{key: k, lim: lim})
	return lim
}

// dropFullBatch bounds the full buckets one new key drops, so no call
// pays for many; each entry is dropped once, so the cost is shared out.
const dropFullBatch = 4

// dropFull drops least recently used limiters while their bucket is full.
func (sh *limiterShard) dropFull(now time.Time) {
	for range dropFullBatch {
		e := sh.lru.Back()
		if e == nil {
			return
		}
		lim := e.Value.(*limiterEntry).lim
		if lim.TokensAt(now) < float64(lim.Burst()) {
			return
		}
		sh.remove(e)
	}
}

func (sh *limiterShard) remove(e *list.Element) {
	delete(sh.byKey, e.Value.(*limiterEntry).key)
	sh.lru.Remove(e)
}

// len returns how many limiters s holds.
func (s *limiterStore) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}
