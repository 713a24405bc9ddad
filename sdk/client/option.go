package client

import (
	"cmp"
	"crypto/tls"
	"errors"
	"net/http"
	"time"
)

// An Option configures a [Client]; pass options to [New].
type Option interface {
	applyToClient(*config)
}

// config is what the options set; New validates it once.
type config struct {
	protocol   Protocol
	httpClient *http.Client
	tls        *tls.Config
	adminToken string
	token      string
	retry      RetryPolicy
	timeout    *time.Duration // nil means defaultAttemptTimeout

	ownerRouting bool
	ownerRefresh time.Duration

	errs []error
}

type optionFunc func(*config)

func (f optionFunc) applyToClient(c *config) { f(c) }

// WithProtocol sets the wire protocol. The default is [ProtocolGRPC].
func WithProtocol(p Protocol) Option {
	return optionFunc(func(c *config) { c.protocol = p })
}

// WithHTTPClient makes the client send its requests with hc, which the
// caller owns: [Client.Close] does not close its connections. hc must
// speak HTTP/2 for [ProtocolGRPC]. The default is a pooled transport that
// speaks h2c to http:// endpoints and HTTP/2 over TLS to https:// ones.
// It cannot be combined with [WithTLSConfig].
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) {
		if hc == nil {
			c.errs = append(c.errs, errors.New("WithHTTPClient: nil *http.Client"))
		}
		c.httpClient = hc
	})
}

// WithTLSConfig sets the TLS configuration of the default transport for
// https:// endpoints; the client clones it. The default verifies servers
// against the system's roots. Configure TLS on your own transport when
// you also pass [WithHTTPClient].
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(c *config) { c.tls = cfg })
}

// WithAdminToken sets the token sent as "Authorization: Bearer <token>" on
// AdminService calls such as [Client.Stats]. The default is none; cache
// calls never carry it.
func WithAdminToken(token string) Option {
	return optionFunc(func(c *config) { c.adminToken = token })
}

// WithToken sets the data-plane token sent as "Authorization: Bearer
// <token>" on every call, for nodes started with --tokens-file (see the
// repository's SECURITY.md for the scopes). An admin token set with
// [WithAdminToken] takes its place on AdminService calls. The default is
// none.
func WithToken(token string) Option {
	return optionFunc(func(c *config) { c.token = token })
}

// WithRetry sets how failed calls are retried; zero fields of p take their
// defaults (see [RetryPolicy]). WithRetry(RetryPolicy{MaxAttempts: 1})
// disables retries. The default is RetryPolicy{}: four attempts, with
// delays capped at 50ms, 100ms and 200ms.
func WithRetry(p RetryPolicy) Option {
	return optionFunc(func(c *config) { c.retry = p })
}

// defaultAttemptTimeout is the attempt timeout of a client made without
// [WithAttemptTimeout].
const defaultAttemptTimeout = time.Second

// WithAttemptTimeout bounds each attempt of a call, on top of the
// caller's context, which bounds the whole call. The default is 1s, for
// Get, Set, Delete and Stats alike; 0 turns the bound off.
//
// An attempt that runs out of it while the caller's context has time left
// is retried on another endpoint (a second such attempt ends the call, see
// [RetryPolicy]), and the endpoint that held it is ejected: calls pass it
// over until it answers a probe, which the client sends at once and then
// every 250ms until [Client.Close]. An endpoint whose connection fails is
// ejected the same way, with or without an attempt timeout, and so is one
// that a caller gave up on (its context ended) after it had been silent
// for an attempt timeout. One that answered another call while the
// attempt waited is not, since the delay was then behind it (the key's
// owner or the group's source). When every endpoint is ejected, calls go
// to all of them.
//
// Raise it for groups whose source can take longer than about 1s to load
// a key: an attempt that times out is cut off on the node too (the
// deadline travels with the call).
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, errors.New("WithAttemptTimeout: negative duration"))
		}
		c.timeout = &d
	})
}

// WithOwnerRouting makes the client send each Get, Set and Delete to the
// node that owns the key, saving the hop from the node it reached to the
// owner. The default is off: calls go round robin and the node forwards.
//
// The client learns the membership from ClusterService/ListMembers on one
// of its endpoints (round robin, with its retries), on its first Get, Set
// or Delete (which waits for the answer while its context allows) and
// then every refresh in the background until [Client.Close]; refresh 0
// means 5s. It places keys by consistent hashing over the members' IDs
// with the answer's replica count, exactly as the nodes do, and calls
// a member at its advertised host:port with the scheme of the endpoint
// that answered (so with TLS its certificate must name that host);
// members need not be among the endpoints given to [New].
//
// The owner gets the first attempt of a call. On a retryable error (see
// [RetryPolicy]; the owner's attempt counts as one of MaxAttempts) the
// call goes on round robin over the endpoints given to [New], and the
// owner is passed over until the next refresh; so are members the node
// reports as suspect, and members ejected for not answering (see
// [WithAttemptTimeout]) until they answer again. A member at the URL of
// an endpoint given to [New] shares that endpoint's connections and
// health. Until the membership is known (or when no member
// owns the key, or it has no usable address) calls go round robin. A
// failed refresh keeps the membership the client had. Stats is not
// routed. The routing state is safe for concurrent use.
func WithOwnerRouting(refresh time.Duration) Option {
	return optionFunc(func(c *config) {
		if refresh < 0 {
			c.errs = append(c.errs, errors.New("WithOwnerRouting: negative refresh"))
		}
		c.ownerRouting = true
		c.ownerRefresh = cmp.Or(refresh, defaultOwnerRefresh)
	})
}

// validate fills in defaults and reports every problem at once.
func (c *config) validate() error {
	errs := c.errs
	if _, err := c.protocol.clientOptions(); err != nil {
		errs = append(errs, err)
	}
	if c.httpClient != nil && c.tls != nil {
		errs = append(errs, errors.New("WithTLSConfig and WithHTTPClient cannot be combined: configure TLS on the http.Client's transport"))
	}
	p, err := c.retry.withDefaults()
	if err != nil {
		errs = append(errs, err)
	}
	c.retry = p
	return errors.Join(errs...)
}
