package api

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// ServeOptions are [Serve]'s optional settings.
type ServeOptions struct {
	// Grace bounds how long in-flight requests may take to finish after
	// shutdown begins (default 10s).
	Grace time.Duration
	// OnShutdown, if set, runs when shutdown begins, before the listener
	// closes.
	OnShutdown func()
	// TLS, when set, serves HTTPS (HTTP/1.1 and HTTP/2) instead of
	// HTTP/1.1 and h2c.
	TLS *tls.Config
	// BodyTimeout bounds how long reading one request's body may take
	// (streaming calls excepted), so a client trickling bytes cannot hold
	// a connection (default [DefaultBodyTimeout]).
	BodyTimeout time.Duration
	// IdleTimeout closes a connection idle this long (default
	// [DefaultIdleTimeout]).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns and MaxConnsPerClient bound the open connections, in all
	// and per client IP address; zero means [DefaultMaxConns] and
	// [DefaultMaxConnsPerClient], negative means no limit. At MaxConns a
	// new connection replaces the one idle the longest.
	MaxConns, MaxConnsPerClient int
}

// The defaults of [ServeOptions].
const (
	DefaultBodyTimeout       = 10 * time.Second
	DefaultIdleTimeout       = time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConns          = 10_000
	DefaultMaxConnsPerClient = 1_000
)

// streamingProcedures are the calls whose request stream may stay open
// for long: no body deadline applies to them.
var streamingProcedures = map[string]bool{
	healthWatchProcedure:                                             true,
	distcachev1connect.CacheServicePipelineProcedure:                 true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// withBodyDeadline bounds the time to read each non-streaming request's
// body.
func withBodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !streamingProcedures[r.URL.Path] {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves h on ln, speaking HTTP/1.1 and HTTP/2 without TLS (h2c) on
// the same port (or HTTPS, given opts.TLS), until ctx is done. Then it
// stops accepting, lets in-flight requests finish for up to opts.Grace,
// and returns. It returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	opts.BodyTimeout = cmp.Or(opts.BodyTimeout, DefaultBodyTimeout)
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, DefaultIdleTimeout)
	opts.MaxHeaderBytes = cmp.Or(opts.MaxHeaderBytes, DefaultMaxHeaderBytes)
	opts.MaxConns = cmp.Or(opts.MaxConns, DefaultMaxConns)
	opts.MaxConnsPerClient = cmp.Or(opts.MaxConnsPerClient, DefaultMaxConnsPerClient)
	limiter := newConnLimiter(max(opts.MaxConns, 0), max(opts.MaxConnsPerClient, 0))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if opts.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           withBodyDeadline(h, opts.BodyTimeout),
		Protocols:         &protocols,
		TLSConfig:         opts.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ConnState:         limiter.hook,
	}
	errc := make(chan error, 1)
	go func() {
		if opts.TLS != nil {
			errc <- srv.ServeTLS(ln, "", "") // certificates come from TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if opts.OnShutdown != nil {
		opts.OnShutdown()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
