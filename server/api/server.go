package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves h on ln, speaking HTTP/1.1 and HTTP/2 without TLS (h2c) on
// the same port, until ctx is done. Then it stops accepting, lets
// in-flight requests finish for up to grace, and returns. It returns nil
// after a clean shutdown. onShutdown, if not nil, runs when shutdown
// begins, before the listener closes.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, onShutdown func()) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if onShutdown != nil {
		onShutdown()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
