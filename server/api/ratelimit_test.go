package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
)

// rlBurst is the burst of the group "limited", which refills one call each
// 1000s: once a client has spent its burst it is refused for the rest of
// the test, whatever the machine's speed.
const rlBurst = 3

var rlLimits = map[string]RateLimit{"limited": {PerClient: 0.001, Burst: rlBurst}}

// rlGroups serves the groups it holds by name.
type rlGroups map[string]*cache.Group

func (m rlGroups) Group(name string) (*cache.Group, bool) { g, ok := m[name]; return g, ok }

func (m rlGroups) All() []*cache.Group {
	var all []*cache.Group
	for _, g := range m {
		all = append(all, g)
	}
	slices.SortFunc(all, func(a, b *cache.Group) int { return strings.Compare(a.Name(), b.Name()) })
	return all
}

// rlServer is a node serving "limited" (rlLimits) and "free" (no limit).
type rlServer struct {
	addr    string
	groups  rlGroups
	metrics *sdkmetric.ManualReader
}

func serveRateLimited(t *testing.T, tokens Tokens) *rlServer {
	t.Helper()
	s := &rlServer{groups: rlGroups{}, metrics: sdkmetric.NewManualReader()}
	for _, name := range []string{"limited", "free"} {
		g, err := cache.NewGroup(cache.Config{Name: name, Capacity: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		s.groups[name] = g
	}
	h, err := NewHandler(Config{Groups: s.groups, Tokens: tokens, RateLimits: rlLimits,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.metrics))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, ServeOptions{}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	s.addr = ln.Addr().String()
	return s
}

// counted returns the value of the counter name for group, 0 if none.
func (s *rlServer) counted(t *testing.T, name, group string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, p := range sum.DataPoints {
				if v, _ := p.Attributes.Value("group"); v.AsString() == group {
					return p.Value
				}
			}
		}
	}
	return 0
}

// rlProtocol is a wire protocol a client may speak.
type rlProtocol struct {
	name string
	opt  connect.ClientOption
	h2c  bool
}

var rlProtocols = []rlProtocol{
	{"connect-json", connect.WithProtoJSON(), false},
	{"grpc", connect.WithGRPC(), true},
	// The same client saying it speaks only gRPC: the node serves it on
	// grpc-go's transport through the bridge (decision 0013).
	{"grpc fast path", connect.WithClientOptions(connect.WithGRPC(), connect.WithInterceptors(grpcOnlyUA)), true},
	{"grpc-web", connect.WithGRPCWeb(), false},
}

// grpcOnlyUA marks a connect-go client's calls as from a gRPC-only client.
var grpcOnlyUA = connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("User-Agent", grpcOnlyAgent+" test")
		return next(ctx, req)
	}
})

// rlClient calls a node from the loopback address from, with a bearer
// token if it has one.
type rlClient struct {
	cache distcachev1connect.CacheServiceClient
	token string
}

func newRLClient(t *testing.T, addr, from string, p rlProtocol, token string) rlClient {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	tr := &http.Transport{DialContext: dialer.DialContext}
	if p.h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := distcachev1connect.NewCacheServiceClient(&http.Client{Transport: tr}, "http://"+addr, p.opt)
	return rlClient{cache: c, token: token}
}

func (c rlClient) set(group, key string) error {
	req := connect.NewRequest(&distcachev1.SetRequest{Group: group, Key: key, Value: []byte("v")})
	c.authorize(req.Header())
	_, err := c.cache.Set(context.Background(), req)
	return err
}

func (c rlClient) get(group, key string) error {
	req := connect.NewRequest(&distcachev1.GetRequest{Group: group, Key: key})
	c.authorize(req.Header())
	_, err := c.cache.Get(context.Background(), req)
	return err
}

func (c rlClient) authorize(h http.Header) {
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// wantRateLimited fails the test unless err refuses a call of group
// "limited" with a retry hint of at most 1000s (one token at 0.001/s) and
// more than 900s (the test has not run for 100s).
func wantRateLimited(t *testing.T, err error) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted {
		t.Fatalf("err = %v, want resource_exhausted", err)
	}
	if !strings.Contains(cerr.Message(), `group "limited"`) || !strings.Contains(cerr.Message(), "burst 3") {
		t.Errorf("message %q names neither the group nor its limit", cerr.Message())
	}
	if n, err := strconv.Atoi(cerr.Meta().Get("Retry-After")); err != nil || n <= 900 || n > 1000 {
		t.Errorf("Retry-After = %q, want 901..1000 seconds", cerr.Meta().Get("Retry-After"))
	}
	var info *errdetails.RetryInfo
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok {
				info = ri
			}
		}
	}
	if d := info.GetRetryDelay().AsDuration(); d <= 900*time.Second || d > 1000*time.Second {
		t.Errorf("RetryInfo = %v, want a delay of 900s..1000s", info)
	}
}

// TestRateLimit spends a client's burst in group "limited" and checks, in
// every protocol, for clients told apart by address and by token: the next
// call is refused with a retry hint and stores nothing, another client is
// unaffected, the group "free" has no limit, and the calls are counted.
func TestRateLimit(t *testing.T) {
	tokens, err := ParseTokens(strings.NewReader("read,write alice-0123456789abcdef\nread,write bob-0123456789abcdef\n"))
	if err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		name         string
		tokens       Tokens
		aFrom, bFrom string
		aTok, bTok   string
	}{
		{"by address", Tokens{}, "127.0.0.1", "127.0.0.2", "", ""},
		{"by token", tokens, "127.0.0.1", "127.0.0.1", "alice-0123456789abcdef", "bob-0123456789abcdef"},
	}
	for _, p := range rlProtocols {
		for _, cl := range clients {
			t.Run(p.name+"/"+cl.name, func(t *testing.T) {
				s := serveRateLimited(t, cl.tokens)
				if p.name == "grpc fast path" {
					bridged := bridgedCalls.Load()
					defer func() {
						if bridgedCalls.Load() == bridged {
							t.Error("no call took the gRPC fast path")
						}
					}()
				}
				a := newRLClient(t, s.addr, cl.aFrom, p, cl.aTok)
				b := newRLClient(t, s.addr, cl.bFrom, p, cl.bTok)
				for i := range rlBurst {
					if err := a.set("limited", fmt.Sprint("k", i)); err != nil {
						t.Fatalf("call %d of the burst: %v", i, err)
					}
				}
				wantRateLimited(t, a.set("limited", "refused"))
				wantRateLimited(t, a.get("limited", "k0")) // Get and Set share the bucket
				if _, err := s.groups["limited"].Get(context.Background(), "refused"); !errors.Is(err, cache.ErrNotFound) {
					t.Errorf("the refused Set was stored: Get = %v, want not found", err)
				}
				if err := b.get("limited", "k0"); err != nil {
					t.Errorf("another client was refused: %v", err)
				}
				for i := range 3 * rlBurst {
					if err := a.set("free", fmt.Sprint("k", i)); err != nil {
						t.Fatalf("a group without a limit refused call %d: %v", i, err)
					}
				}
				if got := s.counted(t, "distcache.ratelimit.refused", "limited"); got != 2 {
					t.Errorf("refused = %d, want 2", got)
				}
				if got := s.counted(t, "distcache.ratelimit.allowed", "limited"); got != rlBurst+1 {
					t.Errorf("allowed = %d, want %d", got, rlBurst+1)
				}
			})
		}
	}
}

// TestRateLimitIgnoresUncheckedTokens: on a node that does not check
// tokens, a new made-up token per call does not buy a new bucket.
func TestRateLimitIgnoresUncheckedTokens(t *testing.T) {
	s := serveRateLimited(t, Tokens{})
	for i := range rlBurst + 1 {
		err := newRLClient(t, s.addr, "127.0.0.1", rlProtocols[0], fmt.Sprint("made-up-", i)).set("limited", "k")
		if i < rlBurst && err != nil {
			t.Fatalf("call %d of the burst: %v", i, err)
		}
		if i == rlBurst {
			wantRateLimited(t, err)
		}
	}
}

// rlStream is a streaming call that receives SetRequests of group
// "limited" from one address.
type rlStream struct {
	connect.StreamingHandlerConn // nil: only the methods below are called
}

func (rlStream) Spec() connect.Spec {
	return connect.Spec{Procedure: distcachev1connect.CacheServiceSetProcedure, StreamType: connect.StreamTypeBidi}
}
func (rlStream) Peer() connect.Peer         { return connect.Peer{Addr: "192.0.2.1:1234"} }
func (rlStream) RequestHeader() http.Header { return http.Header{} }
func (rlStream) Receive(msg any) error {
	proto.Merge(msg.(proto.Message), &distcachev1.SetRequest{Group: "limited", Key: "k"})
	return nil
}

// TestRateLimitStreamingHandler: each message of a stream takes a token.
func TestRateLimitStreamingHandler(t *testing.T) {
	r, err := newRateLimiter(rlLimits, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := r.WrapStreamingHandler(func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		for range rlBurst {
			if err := conn.Receive(&distcachev1.SetRequest{}); err != nil {
				return fmt.Errorf("within the burst: %w", err)
			}
		}
		return conn.Receive(&distcachev1.SetRequest{})
	})
	wantRateLimited(t, handler(context.Background(), rlStream{}))
}

func TestNewRateLimiter(t *testing.T) {
	tests := []struct {
		limit     RateLimit
		wantBurst int // 0: an error
	}{
		{RateLimit{PerClient: 2.5}, 3},
		{RateLimit{PerClient: 0.001}, 1},
		{RateLimit{PerClient: 5, Burst: 7}, 7},
		{RateLimit{PerClient: 0}, 0},
		{RateLimit{PerClient: -1, Burst: 1}, 0},
		{RateLimit{PerClient: math.NaN()}, 0},
		{RateLimit{PerClient: math.Inf(1)}, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			r, err := newRateLimiter(map[string]RateLimit{"g": tt.limit}, false, nil)
			switch {
			case tt.wantBurst == 0 && err == nil:
				t.Fatalf("no error for %+v", tt.limit)
			case tt.wantBurst != 0 && err != nil:
				t.Fatal(err)
			case err == nil && r.limits["g"].Burst != tt.wantBurst:
				t.Errorf("Burst = %d, want %d", r.limits["g"].Burst, tt.wantBurst)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		name    string
		byToken bool
		a, b    http.Header
		aAddr   string
		bAddr   string
		same    bool
	}{
		{"same address, other port", false, nil, nil, "192.0.2.1:1", "192.0.2.1:2", true},
		{"other address", false, nil, nil, "192.0.2.1:1", "192.0.2.2:1", false},
		{"same IPv6 /64", false, nil, nil, "[2001:db8::1]:1", "[2001:db8::ffff:2]:1", true},
		{"other IPv6 /64", false, nil, nil, "[2001:db8::1]:1", "[2001:db8:0:1::1]:1", false},
		{"tokens ignored", false, bearer("x"), bearer("y"), "192.0.2.1:1", "192.0.2.1:1", true},
		{"other token", true, bearer("x"), bearer("y"), "192.0.2.1:1", "192.0.2.1:1", false},
		{"same token, other address", true, bearer("x"), bearer("x"), "192.0.2.1:1", "192.0.2.2:1", true},
		{"token or none", true, bearer("x"), nil, "192.0.2.1:1", "192.0.2.1:1", false},
		{"empty token", true, bearer(""), nil, "192.0.2.1:1", "192.0.2.1:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rateLimiter{byToken: tt.byToken}
			a, b := r.clientKey(tt.a, tt.aAddr), r.clientKey(tt.b, tt.bAddr)
			if (a == b) != tt.same {
				t.Errorf("keys %q and %q: same = %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
	r := &rateLimiter{byToken: true}
	if key := r.clientKey(bearer("secret-token"), "192.0.2.1:1"); strings.Contains(key, "secret-token") {
		t.Errorf("key %q holds the raw token", key)
	}
}

// TestLimiterStoreBounded: many distinct clients never grow the store
// past its capacity, and a client used all along keeps its bucket.
func TestLimiterStoreBounded(t *testing.T) {
	const capacity = 64
	s := newLimiterStore(capacity)
	limit, now := RateLimit{PerClient: 0.001, Burst: 1}, time.Now()
	hot := limiterKey{group: "g", client: "hot"}
	if !s.limiter(hot, limit, now).AllowN(now, 1) {
		t.Fatal("a new bucket is empty")
	}
	for i := range 10_000 {
		s.limiter(limiterKey{group: "g", client: fmt.Sprint(i)}, limit, now).AllowN(now, 1)
		s.limiter(hot, limit, now)
		if n := s.len(); n > capacity {
			t.Fatalf("after %d clients the store holds %d limiters, more than %d", i+1, n, capacity)
		}
	}
	if s.limiter(hot, limit, now).AllowN(now, 1) {
		t.Error("the client used all along lost its spent bucket")
	}
}

// TestLimiterStoreDropsFullBuckets: buckets full again are forgotten as
// new clients come, well before the store is full.
func TestLimiterStoreDropsFullBuckets(t *testing.T) {
	s := newLimiterStore(100_000)
	limit, now := RateLimit{PerClient: 1000, Burst: 1}, time.Now()
	use := func(prefix string, at time.Time) {
		for i := range 1000 {
			s.limiter(limiterKey{group: "g", client: fmt.Sprint(prefix, i)}, limit, at).AllowN(at, 1)
		}
	}
	use("old", now)
	later := now.Add(time.Second) // every old bucket is full again
	use("new", later)
	if n := s.len(); n > 1100 {
		t.Errorf("the store holds %d limiters; want the 1000 new ones and few old", n)
	}
}

// TestLimiterStoreHammer beats on a small store from many goroutines.
func TestLimiterStoreHammer(t *testing.T) {
	const capacity = 64
	s := newLimiterStore(capacity)
	limit := RateLimit{PerClient: 10, Burst: 2}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				now := time.Now()
				s.limiter(limiterKey{group: "g", client: fmt.Sprint(w, "-", i%300)}, limit, now).AllowN(now, 1)
			}
		})
	}
	wg.Wait()
	if n := s.len(); n > capacity {
		t.Errorf("the store holds %d limiters, more than %d", n, capacity)
	}
}
