package api

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
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
}

// Serve serves h on ln, speaking HTTP/1.1 and HTTP/2 without TLS (h2c) on
// the same port (or HTTPS, given opts.TLS), until ctx is done. Then it
// stops accepting, lets in-flight requests finish for up to opts.Grace,
// and returns. It returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if opts.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		TLSConfig:         opts.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
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
