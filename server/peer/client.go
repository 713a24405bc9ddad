// Package peer is the node-to-node protocol: the PeerService handler a
// node serves as the owner of keys, the client other nodes call it with,
// and how errors cross the hop in both directions. The cache package
// sees a peer only through [cache.Peer].
package peer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/sdk/client/ring"
	"github.com/distcache/distcache/server/cache"
)

// CodeOwnerFailed is the code a peer answers with when its own loader or
// write-through source failed: the owner was reached, so the caller must
// not load in its place. Any unavailable answer means "not reached".
const CodeOwnerFailed = connect.CodeAborted

// CodeNoQuorum is the code a peer answers with when it took a write as
// owner but too few of the key's replicas kept it: the owner was reached
// (it is not suspect), and the write was not acknowledged.
const CodeNoQuorum = connect.CodeFailedPrecondition

// Config configures a [Client].
type Config struct {
	// TLS, when set, makes peer calls over HTTPS with this configuration;
	// nil means HTTP/2 without TLS (h2c).
	TLS *tls.Config
	// TracerProvider and Propagator carry traces across the hop; nil means
	// no tracing.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Secret is the cluster secret sent with every call (see
	// [SecretHeader]); peers refuse calls without it.
	Secret string
	// Timeout bounds one peer read (Fetch, Peek) and replication call on
	// top of the caller's context (default [DefaultPeerTimeout]); a peer
	// that does not answer within it is unreachable.
	Timeout time.Duration
	// WriteTimeout bounds one forwarded write (Store, Remove), which
	// includes the owner's replication and lease revocation (default
	// [DefaultPeerWriteTimeout], or as much longer as Timeout is longer
	// than its default).
	WriteTimeout time.Duration
}

// DefaultPeerTimeout is [Config.Timeout]'s default: well under a
// client's own deadline, so a node that forwards to a hung owner fails
// over to its replicas in time.
const DefaultPeerTimeout = 500 * time.Millisecond

// DefaultPeerWriteTimeout is [Config.WriteTimeout]'s default: a
// replication call plus a hot-copy lease ([cache.DefaultHotLease]) the
// owner may have to wait out.
const DefaultPeerWriteTimeout = DefaultPeerTimeout + cache.DefaultHotLease + 500*time.Millisecond

// Client calls other nodes' PeerService over gRPC, on pooled HTTP/2
// connections (one pool per node address). It is safe for concurrent use.
type Client struct {
	http         *http.Client
	scheme       string
	opts         []connect.ClientOption
	adminOpts    []connect.ClientOption
	timeout      time.Duration
	writeTimeout time.Duration

	mu      sync.Mutex
	clients map[string]distcachev1connect.PeerServiceClient
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) (*Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	scheme := "http"
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
		tr.ForceAttemptHTTP2 = true
		scheme = "https"
	} else {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	otelOpts := []otelconnect.Option{}
	if cfg.TracerProvider != nil {
		otelOpts = append(otelOpts, otelconnect.WithTracerProvider(cfg.TracerProvider))
	}
	if cfg.Propagator != nil {
		otelOpts = append(otelOpts, otelconnect.WithPropagator(cfg.Propagator))
	}
	otel, err := otelconnect.NewInterceptor(otelOpts...)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultPeerTimeout
	}
	if cfg.WriteTimeout <= 0 {
		// A replication call within Timeout, plus the lease wait.
		cfg.WriteTimeout = cfg.Timeout + DefaultPeerWriteTimeout - DefaultPeerTimeout
	}
	return &Client{
		http:         &http.Client{Transport: tr},
		scheme:       scheme,
		opts:         []connect.ClientOption{connect.WithGRPC(), connect.WithInterceptors(otel, secretAuth{secret: []byte(cfg.Secret)})},
		adminOpts:    []connect.ClientOption{connect.WithGRPC(), connect.WithInterceptors(otel)},
		timeout:      cfg.Timeout,
		writeTimeout: cfg.WriteTimeout,
		clients:      map[string]distcachev1connect.PeerServiceClient{},
	}, nil
}

// client returns the PeerService client of addr, made once.
func (c *Client) client(addr string) distcachev1connect.PeerServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[addr]
	if !ok {
		cl = distcachev1connect.NewPeerServiceClient(c.http, c.scheme+"://"+addr, c.opts...)
		c.clients[addr] = cl
	}
	return cl
}

// Admin returns a client of the AdminService of the node at addr, on the
// peer connections (their TLS and client certificate) but without the
// cluster secret: an admin call carries the admin token of the call it
// acts for, which the node called checks itself.
func (c *Client) Admin(addr string) distcachev1connect.AdminServiceClient {
	return distcachev1connect.NewAdminServiceClient(c.http, c.scheme+"://"+addr, c.adminOpts...)
}

// Retain forgets the clients of every address not in addrs, so the map
// does not grow with members that left; the pool's idle connections to
// them close after IdleConnTimeout.
func (c *Client) Retain(addrs map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr := range c.clients {
		if !addrs[addr] {
			delete(c.clients, addr)
		}
	}
}

// Clients returns how many addresses the client holds a client for.
func (c *Client) Clients() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clients)
}

// Close closes idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Remote is another node as the cache sees it: a [cache.Peer].
type Remote struct {
	member ring.Member
	c      *Client
}

var _ cache.Peer = (*Remote)(nil)

// NewRemote returns the node m, called through c.
func NewRemote(m ring.Member, c *Client) *Remote { return &Remote{member: m, c: c} }

// Member returns the node's member record.
func (p *Remote) Member() ring.Member { return p.member }

func (p *Remote) String() string { return p.member.ID }

// ID implements [cache.Peer].
func (p *Remote) ID() string { return p.member.ID }

// Fetch implements [cache.Peer].
func (p *Remote) Fetch(ctx context.Context, group, key, holder string) (cache.Value, time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	req := &distcachev1.FetchRequest{Group: group, Key: key, Holder: holder}
	res, err := p.c.client(p.member.Addr).Fetch(cctx, connect.NewRequest(req))
	if err != nil {
		return cache.Value{}, 0, p.wrap(ctx, err, group, key)
	}
	v := cache.Value{Bytes: res.Msg.GetValue()}
	if res.Msg.GetTtl() != nil {
		v.Expires = time.Now().Add(res.Msg.GetTtl().AsDuration())
	}
	return v, res.Msg.GetHotLease().AsDuration(), nil
}

// Store implements [cache.Peer].
func (p *Remote) Store(ctx context.Context, group, key string, value []byte, ttl time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, p.c.writeTimeout)
	defer cancel()
	req := &distcachev1.StoreRequest{Group: group, Key: key, Value: value}
	if ttl >= 0 {
		req.Ttl = durationpb.New(ttl)
	}
	_, err := p.c.client(p.member.Addr).Store(cctx, connect.NewRequest(req))
	return p.wrap(ctx, err, group, key)
}

// Remove implements [cache.Peer].
func (p *Remote) Remove(ctx context.Context, group, key string) error {
	cctx, cancel := context.WithTimeout(ctx, p.c.writeTimeout)
	defer cancel()
	_, err := p.c.client(p.member.Addr).Remove(cctx, connect.NewRequest(&distcachev1.RemoveRequest{Group: group, Key: key}))
	return p.wrap(ctx, err, group, key)
}

// Replicate implements [cache.Peer].
func (p *Remote) Replicate(ctx context.Context, group string, rs ...cache.Record) error {
	if len(rs) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	now := time.Now()
	req := &distcachev1.ReplicateRequest{Group: group, Records: make([]*distcachev1.Record, len(rs))}
	for i, r := range rs {
		req.Records[i] = RecordToProto(r, now)
	}
	_, err := p.c.client(p.member.Addr).Replicate(cctx, connect.NewRequest(req))
	return p.wrap(ctx, err, group, rs[0].Key)
}

// Peek implements [cache.Peer].
func (p *Remote) Peek(ctx context.Context, group, key string) (cache.Record, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	res, err := p.c.client(p.member.Addr).Peek(cctx, connect.NewRequest(&distcachev1.PeekRequest{Group: group, Key: key}))
	if err != nil {
		return cache.Record{}, false, p.wrap(ctx, err, group, key)
	}
	if !res.Msg.GetFound() {
		return cache.Record{}, false, nil
	}
	return RecordFromProto(res.Msg.GetRecord(), time.Now()), true, nil
}

// Invalidate asks the node to drop its copies of key in group.
func (p *Remote) Invalidate(ctx context.Context, group, key string) error {
	req := connect.NewRequest(&distcachev1.InvalidateRequest{Group: group, Key: key})
	_, err := p.c.client(p.member.Addr).Invalidate(ctx, req)
	return p.wrap(ctx, err, group, key)
}

// RecordToProto turns r into its wire form, its expiry as the ttl left
// at now.
func RecordToProto(r cache.Record, now time.Time) *distcachev1.Record {
	pr := &distcachev1.Record{Key: r.Key, Value: r.Value, Version: r.Version, Tombstone: r.Tomb}
	if !r.Expires.IsZero() {
		pr.Ttl = durationpb.New(max(r.Expires.Sub(now), 0))
	}
	return pr
}

// RecordFromProto turns a wire record received at now into a record.
func RecordFromProto(pr *distcachev1.Record, now time.Time) cache.Record {
	r := cache.Record{Key: pr.GetKey(), Value: pr.GetValue(), Version: pr.GetVersion(), Tomb: pr.GetTombstone()}
	if pr.GetTtl() != nil {
		r.Expires = now.Add(pr.GetTtl().AsDuration())
	}
	return r
}

// wrap turns a peer's answer into the cache's errors: not found, the
// owner's failure, or unreachable. ctx is the caller's: a per-call timeout
// that ran out while it is still live means the peer did not answer.
func (p *Remote) wrap(ctx context.Context, err error, group, key string) error {
	if err == nil {
		return nil
	}
	code := connect.CodeOf(err)
	if ctx.Err() == nil && (code == connect.CodeCanceled || code == connect.CodeDeadlineExceeded) {
		// Our own timeout ran out, or connect-go reported a reset
		// connection as canceled: the peer did not answer.
		return fmt.Errorf("peer %s at %s: %w: %w", p.member.ID, p.member.Addr, cache.ErrUnreachable, err)
	}
	switch code {
	case connect.CodeNotFound:
		return fmt.Errorf("owner %s: %w", p.member.ID, cache.ErrNotFound)
	case CodeNoQuorum:
		return fmt.Errorf("owner %s: %w", p.member.ID, cache.ErrNoQuorum)
	case CodeOwnerFailed:
		return &cache.LoadError{Group: group, Key: key, Err: fmt.Errorf("owner %s: %w", p.member.ID, err)}
	case connect.CodeUnavailable, connect.CodeUnknown:
		return fmt.Errorf("peer %s at %s: %w: %w", p.member.ID, p.member.Addr, cache.ErrUnreachable, err)
	}
	return fmt.Errorf("peer %s: %w", p.member.ID, err)
}

// Alive asks the node at addr for its health and reports whether it
// answered SERVING within the peer timeout. A node shutting down answers
// NOT_SERVING; a frozen or dead one does not answer.
func (c *Client) Alive(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hc := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](
		c.http, c.scheme+"://"+addr+"/grpc.health.v1.Health/Check", connect.WithGRPC())
	res, err := hc.CallUnary(ctx, connect.NewRequest(&healthpb.HealthCheckRequest{}))
	return err == nil && res.Msg.GetStatus() == healthpb.HealthCheckResponse_SERVING
}
