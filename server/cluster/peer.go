package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
)

// CodeOwnerFailed is the code a peer answers with when its own loader or
// write-through source failed: the owner was reached, so the caller must
// not load in its place. Any unavailable answer means "not reached".
const CodeOwnerFailed = connect.CodeAborted

// ClientConfig configures a [PeerClient].
type ClientConfig struct {
	// TLS, when set, makes peer calls over HTTPS with this configuration;
	// nil means HTTP/2 without TLS (h2c).
	TLS *tls.Config
	// TracerProvider and Propagator carry traces across the hop; nil means
	// no tracing.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Timeout bounds one peer call on top of the caller's context
	// (default 5s).
	Timeout time.Duration
}

// PeerClient calls other nodes' PeerService over gRPC, on pooled HTTP/2
// connections (one pool per node address). It is safe for concurrent use.
type PeerClient struct {
	http    *http.Client
	scheme  string
	opts    []connect.ClientOption
	timeout time.Duration

	mu      sync.Mutex
	clients map[string]distcachev1connect.PeerServiceClient
}

// NewPeerClient returns a client for cfg.
func NewPeerClient(cfg ClientConfig) (*PeerClient, error) {
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
		cfg.Timeout = 5 * time.Second
	}
	return &PeerClient{
		http:    &http.Client{Transport: tr},
		scheme:  scheme,
		opts:    []connect.ClientOption{connect.WithGRPC(), connect.WithInterceptors(otel)},
		timeout: cfg.Timeout,
		clients: map[string]distcachev1connect.PeerServiceClient{},
	}, nil
}

// client returns the PeerService client of addr, made once.
func (c *PeerClient) client(addr string) distcachev1connect.PeerServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[addr]
	if !ok {
		cl = distcachev1connect.NewPeerServiceClient(c.http, c.scheme+"://"+addr, c.opts...)
		c.clients[addr] = cl
	}
	return cl
}

// Close closes idle connections.
func (c *PeerClient) Close() { c.http.CloseIdleConnections() }

// remotePeer is another node as the cache sees it.
type remotePeer struct {
	member Member
	c      *PeerClient
}

var _ cache.Peer = (*remotePeer)(nil)

func (p *remotePeer) String() string { return p.member.ID }

// Fetch implements [cache.Peer].
func (p *remotePeer) Fetch(ctx context.Context, group, key string) (cache.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	res, err := p.c.client(p.member.Addr).Fetch(ctx, connect.NewRequest(&distcachev1.FetchRequest{Group: group, Key: key}))
	if err != nil {
		return cache.Value{}, p.wrap(ctx, err, group, key)
	}
	v := cache.Value{Bytes: res.Msg.GetValue()}
	if res.Msg.GetTtl() != nil {
		v.Expires = time.Now().Add(res.Msg.GetTtl().AsDuration())
	}
	return v, nil
}

// Store implements [cache.Peer].
func (p *remotePeer) Store(ctx context.Context, group, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	req := &distcachev1.StoreRequest{Group: group, Key: key, Value: value}
	if ttl >= 0 {
		req.Ttl = durationpb.New(ttl)
	}
	_, err := p.c.client(p.member.Addr).Store(ctx, connect.NewRequest(req))
	return p.wrap(ctx, err, group, key)
}

// Remove implements [cache.Peer].
func (p *remotePeer) Remove(ctx context.Context, group, key string) error {
	ctx, cancel := context.WithTimeout(ctx, p.c.timeout)
	defer cancel()
	_, err := p.c.client(p.member.Addr).Remove(ctx, connect.NewRequest(&distcachev1.RemoveRequest{Group: group, Key: key}))
	return p.wrap(ctx, err, group, key)
}

// wrap turns a peer's answer into the cache's errors: not found, the
// owner's failure, or unreachable.
func (p *remotePeer) wrap(ctx context.Context, err error, group, key string) error {
	if err == nil {
		return nil
	}
	if connect.CodeOf(err) == connect.CodeCanceled && ctx.Err() == nil {
		// connect-go reports a reset connection as canceled; with our own
		// context still live, the owner was not reached (it went away).
		return fmt.Errorf("owner %s at %s: %w: %w", p.member.ID, p.member.Addr, cache.ErrUnreachable, err)
	}
	switch connect.CodeOf(err) {
	case connect.CodeNotFound:
		return fmt.Errorf("owner %s: %w", p.member.ID, cache.ErrNotFound)
	case CodeOwnerFailed:
		return &cache.LoadError{Group: group, Key: key, Err: fmt.Errorf("owner %s: %w", p.member.ID, err)}
	case connect.CodeUnavailable, connect.CodeUnknown:
		return fmt.Errorf("owner %s at %s: %w: %w", p.member.ID, p.member.Addr, cache.ErrUnreachable, err)
	case connect.CodeDeadlineExceeded:
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("owner %s: %w: %w", p.member.ID, cache.ErrUnreachable, err)
		}
	}
	return fmt.Errorf("owner %s: %w", p.member.ID, err)
}
