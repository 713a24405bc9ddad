package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// Client calls a set of distcache nodes. It spreads calls over them round
// robin, bounds each attempt with [WithAttemptTimeout], retries a failed
// call on the next node (see [RetryPolicy]) and passes over a node that
// stops answering until it answers again; with [WithOwnerRouting] it
// sends each key's calls to the key's owner first. It is safe for
// concurrent use; make one and share it.
type Client struct {
	endpoints  []*endpoint          // as given to New; a URL given twice is one endpoint
	byURL      map[string]*endpoint // endpoints by URL
	next       atomic.Uint64        // the endpoint the next call starts at
	router     *ownerRouter         // nil unless WithOwnerRouting
	copts      []connect.ClientOption
	retry      RetryPolicy
	timeout    time.Duration // per attempt; 0 means none
	adminToken string
	http       *http.Client
	ownsHTTP   bool

	// Outlier detection (outlier.go): epoch is the zero of health
	// times; probers run under probeCtx, which Close cancels, and are
	// counted in probes.
	epoch      time.Time
	probeCtx   context.Context
	stopProbes context.CancelFunc
	probes     sync.WaitGroup
	mu         sync.Mutex // guards closed and every endpoint's health.probing
	closed     bool

	// sleep and randN are time.Sleep with a context and rand.Int64N;
	// onHealth, if set, hears of every ejection and readmission. Tests
	// set them.
	sleep    func(context.Context, time.Duration) error
	randN    func(int64) int64
	onHealth func(url string, ejected bool)
}

// endpoint is one node's clients and what the client knows of its
// health.
type endpoint struct {
	url     string
	cache   distcachev1connect.CacheServiceClient
	admin   distcachev1connect.AdminServiceClient
	cluster distcachev1connect.ClusterServiceClient
	health
}

// New returns a client of the nodes at endpoints, base URLs such as
// "http://127.0.0.1:8080" or "https://cache-1.internal:8443". It needs at
// least one; a URL that is not http:// or https:// with a host, or that
// has a query or fragment, is an error naming it. New does not dial: a
// node that is down is found on the first call.
func New(endpoints []string, opts ...Option) (*Client, error) {
	cfg := config{}
	for _, o := range opts {
		o.applyToClient(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("distcache: %w", err)
	}
	urls, err := parseEndpoints(endpoints)
	if err != nil {
		return nil, fmt.Errorf("distcache: %w", err)
	}
	c := &Client{
		byURL:      map[string]*endpoint{},
		retry:      cfg.retry,
		timeout:    defaultAttemptTimeout,
		adminToken: cfg.adminToken,
		http:       cfg.httpClient,
		epoch:      time.Now(),
		sleep:      sleep,
		randN:      rand.Int64N,
	}
	if cfg.timeout != nil {
		c.timeout = *cfg.timeout
	}
	c.probeCtx, c.stopProbes = context.WithCancel(context.Background())
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg.tls)}
		c.ownsHTTP = true
	}
	c.copts, _ = cfg.protocol.clientOptions() // validated above
	if c.ownsHTTP && cfg.protocol == ProtocolGRPC {
		// Its connections carry only gRPC: say so, and the node serves
		// them on its gRPC fast path.
		c.copts = append(c.copts, connect.WithInterceptors(grpcOnlyAgent{}))
	}
	if cfg.token != "" {
		c.copts = append(c.copts, connect.WithInterceptors(bearerToken(cfg.token)))
	}
	for _, u := range urls {
		e := c.byURL[u]
		if e == nil {
			e = c.newEndpoint(u)
			c.byURL[u] = e
		}
		c.endpoints = append(c.endpoints, e)
	}
	if cfg.ownerRouting {
		c.router = newOwnerRouter(c, cfg.ownerRefresh)
	}
	return c, nil
}

// newEndpoint returns the clients of the node at base URL u.
func (c *Client) newEndpoint(u string) *endpoint {
	return &endpoint{
		url:     u,
		cache:   distcachev1connect.NewCacheServiceClient(c.http, u, c.copts...),
		admin:   distcachev1connect.NewAdminServiceClient(c.http, u, c.copts...),
		cluster: distcachev1connect.NewClusterServiceClient(c.http, u, c.copts...),
	}
}

// parseEndpoints checks every endpoint and returns them without a
// trailing slash.
func parseEndpoints(endpoints []string) ([]string, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no endpoints")
	}
	var errs []error
	out := make([]string, 0, len(endpoints))
	for _, ep := range endpoints {
		if err := checkEndpoint(ep); err != nil {
			errs = append(errs, fmt.Errorf("endpoint %q: %w", ep, err))
			continue
		}
		out = append(out, strings.TrimSuffix(ep, "/"))
	}
	return out, errors.Join(errs...)
}

func checkEndpoint(ep string) error {
	u, err := url.Parse(ep)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("user info is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("query and fragment are not allowed")
	}
	return nil
}

// Close stops the probes of ejected endpoints and the membership refresh
// of [WithOwnerRouting], waiting for them to end, and closes the idle
// connections of the client's default transport. It leaves a client given
// with [WithHTTPClient] alone. Calls after Close still work, on new
// connections, over every endpoint (none is ejected any more); with owner
// routing they use the last membership the client saw. Close may be
// called more than once, and concurrently with calls.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopProbes()
	c.probes.Wait()
	if c.router != nil {
		c.router.close()
	}
	if c.ownsHTTP {
		c.http.CloseIdleConnections()
	}
}

// wrapError names the call in err and marks a missing key or group as
// [ErrNotFound], keeping the *connect.Error.
func wrapError(op, group, key string, err error) error {
	if err == nil {
		return nil
	}
	target := group
	if key != "" {
		target = fmt.Sprintf("%s/%q", group, key)
	}
	if connect.CodeOf(err) == connect.CodeNotFound {
		return fmt.Errorf("distcache: %s %s: %w: %w", op, target, ErrNotFound, err)
	}
	return fmt.Errorf("distcache: %s %s: %w", op, target, err)
}

// ErrNotFound is the error, tested with errors.Is, of a call on a key that
// the group's source does not have, or on a group the node does not
// serve. The error still holds the server's *connect.Error.
var ErrNotFound = errors.New("not found")
