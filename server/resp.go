package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/distcache/distcache/server/node"
)

// serveRESP serves the Redis protocol on --resp-addr, if set, until ctx
// ends (with the HTTP listener: after --shutdown-delay on SIGTERM). The
// returned function waits for it to stop and returns its error.
func serveRESP(ctx context.Context, f *flags, n *node.Node, log *slog.Logger) (wait func() error, err error) {
	if f.respAddr == "" {
		return func() error { return nil }, nil
	}
	srv, err := n.RESPServer(f.respGroup)
	if err != nil {
		return nil, fmt.Errorf("--resp-default-group: %w", err)
	}
	ln, err := net.Listen("tcp", f.respAddr)
	if err != nil {
		return nil, fmt.Errorf("--resp-addr: %w", err)
	}
	log.Info("serving RESP", "addr", ln.Addr().String(), "default_group", f.respGroup)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return func() error {
		err := <-done
		log.Info("stopped serving RESP", "addr", ln.Addr().String(), "err", err)
		return err
	}, nil
}
