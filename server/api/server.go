package api

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

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
	// NetHTTPOnly serves every connection with net/http's server. By
	// default connections from gRPC-only clients are served
	// by grpc-go's HTTP/2 transport, which costs a fraction of net/http's
	// per call (decision 0013); the handler and its answers are the same.
	NetHTTPOnly bool
	// MaxMessageBytes bounds one request message on the grpc-go path,
	// after decompression, as the handler's own read limit does on the
	// other (default 4 MiB, grpc-go's own).
	MaxMessageBytes int
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
	if opts.TLS != nil && opts.NetHTTPOnly {
		protocols.SetHTTP2(true)
	} else {
		// TLS, when the demultiplexer terminates it, hands net/http
		// HTTP/2 connections that look unencrypted (their TLS state
		// comes from ConnectionState).
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           withBodyDeadline(h, opts.BodyTimeout),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ConnState:         limiter.hook,
	}
	if opts.NetHTTPOnly {
		srv.TLSConfig = opts.TLS
		return serveHTTP(ctx, ln, srv, opts)
	}
	return serveDemux(ctx, ln, srv, h, limiter, opts)
}

// serveHTTP serves every connection on ln with srv.
func serveHTTP(ctx context.Context, ln net.Listener, srv *http.Server, opts ServeOptions) error {
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

// serveDemux serves connections from gRPC-only clients with grpc-go's
// transport and the others with srv, both answering through h.
func serveDemux(ctx context.Context, ln net.Listener, srv *http.Server, h http.Handler, limiter *connLimiter, opts ServeOptions) error {
	httpLn, grpcLn := newChanListener(ln.Addr()), newChanListener(ln.Addr())
	bridge := &grpcBridge{h: h, bodyTimeout: opts.BodyTimeout}
	gopts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(envelopeCodec{}),
		grpc.UnknownServiceHandler(bridge.handle),
		grpc.InTapHandle(bridge.tap),
		grpc.MaxConcurrentStreams(grpcMaxStreams),
		grpc.MaxHeaderListSize(uint32(opts.MaxHeaderBytes)),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: opts.IdleTimeout}),
		grpc.SharedWriteBuffer(true),
		// Calls run on a pool of goroutines whose stacks have grown to
		// what a call needs, rather than each on a new goroutine that
		// grows its stack again (14% of the CPU in the profile).
		grpc.NumStreamWorkers(uint32(grpcStreamWorkers())),
	}
	if opts.MaxMessageBytes > 0 {
		gopts = append(gopts, grpc.MaxRecvMsgSize(opts.MaxMessageBytes))
	}
	gsrv := grpc.NewServer(gopts...)
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(httpLn) }()
	go func() { errc <- gsrv.Serve(grpcLn) }()
	go func() {
		var tlsCfg *tls.Config
		if opts.TLS != nil {
			tlsCfg = serverTLSConfig(opts.TLS)
		}
		errc <- demux(ln, limiter, httpLn, grpcLn, tlsCfg, srv.ReadHeaderTimeout, opts.MaxHeaderBytes)
	}()
	stopped := 0
	select {
	case err := <-errc:
		// One of the three stopped by itself: stop the others.
		stopped = 1
		_ = ln.Close()
		_ = srv.Close()
		gsrv.Stop()
		for ; stopped < 3; stopped++ {
			<-errc
		}
		return err
	case <-ctx.Done():
	}
	if opts.OnShutdown != nil {
		opts.OnShutdown()
	}
	_ = ln.Close() // the demultiplexer stops accepting and returns
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Grace)
	defer cancel()
	graceful := make(chan struct{})
	go func() {
		gsrv.GracefulStop()
		close(graceful)
	}()
	err := srv.Shutdown(sctx)
	select {
	case <-graceful:
	case <-sctx.Done():
		gsrv.Stop() // calls still running after the grace are cut
		<-graceful
	}
	_ = httpLn.Close()
	_ = grpcLn.Close()
	for ; stopped < 3; stopped++ {
		// grpc-go answers ErrServerStopped when it was stopped before its
		// Serve began: a shutdown right after start.
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) &&
			!errors.Is(serr, grpc.ErrServerStopped) {
			err = errors.Join(err, serr)
		}
	}
	return err
}

// grpcStreamWorkers is the size of the grpc-go path's pool of call
// goroutines: one per stream a connection may have open, so that a burst
// of calls read in one go finds a worker each (a call that finds none
// runs on a new goroutine, whose stack grows again: regexp validation
// alone grew it on every call); more on larger machines.
func grpcStreamWorkers() int { return max(grpcMaxStreams, 16*runtime.GOMAXPROCS(0)) }

// grpcMaxStreams is the concurrent streams per connection on the grpc-go
// path, net/http's default on the other.
const grpcMaxStreams = 250
