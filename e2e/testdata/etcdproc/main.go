// Command etcdproc runs a real single-member etcd (internal/devetcd) in a
// process of its own, so that a test can freeze it with SIGSTOP and thaw it
// with SIGCONT. TestConsistency builds it.
//
// It prints "ready <host:port>" on stdout once etcd serves clients, and
// stops etcd on SIGTERM or SIGINT, or when its stdin reaches end of file
// (the test that started it is gone).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/distcache/distcache/internal/devetcd"
)

func main() {
	dir := flag.String("dir", "", "etcd data directory (required)")
	client := flag.String("client", "127.0.0.1:0", "client address, host:port")
	peer := flag.String("peer", "127.0.0.1:0", "peer address, host:port")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "etcdproc: -dir is required")
		os.Exit(2)
	}
	srv, err := devetcd.Start(*dir, *client, *peer)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdproc:", err)
		os.Exit(1)
	}
	fmt.Println("ready", srv.Endpoint)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	srv.Close()
}
