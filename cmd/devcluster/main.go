// Command devcluster runs a local distcache cluster: a real etcd (embedded
// in this process) and several node processes on loopback, each with its
// own port, database and plugins directory. Ctrl-C stops them all:
// SIGTERM to every node (each leaves the cluster first), then etcd, and
// the command exits 0. Each node's log lines are prefixed with its name.
//
//	go tool task cluster          # builds bin/distcache and runs this
//	go run ./cmd/devcluster -bin bin/distcache -nodes 3 -port 8081
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/devetcd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devcluster", flag.ContinueOnError)
	bin := fs.String("bin", "bin/distcache", "the node binary")
	nodes := fs.Int("nodes", 3, "how many nodes")
	port := fs.Int("port", 8081, "the first node's port; the others follow (0: free ports)")
	etcdAddr := fs.String("etcd", "127.0.0.1:2379", "where etcd serves clients")
	dir := fs.String("dir", "", "where databases and plugins go (default: a new temporary directory)")
	plugins := fs.String("plugins", "plugins", "a plugins directory every node watches (shared)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nodes < 1 {
		return fmt.Errorf("-nodes %d: want at least 1", *nodes)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "distcache-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	etcd, err := devetcd.Start(filepath.Join(*dir, "etcd"), *etcdAddr, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer etcd.Close()
	fmt.Fprintf(stdout, "etcd      %s\n", etcd.Endpoint)
	var (
		procs []*exec.Cmd
		outs  []*linePrefixer
		outMu sync.Mutex // one line at a time on stderr
		addrs []string
	)
	defer func() {
		stopAll(procs, stderr)
		for _, o := range outs {
			o.flush()
		}
	}()
	for i := range *nodes {
		addr := fmt.Sprintf("127.0.0.1:%d", *port+i)
		if *port == 0 {
			if addr, err = childproc.FreeAddr(); err != nil {
				return err
			}
		}
		cmd := exec.Command(*bin,
			"--addr", addr, "--node-id", fmt.Sprintf("node%d", i+1), "--shutdown-delay", "0s",
			"--db", filepath.Join(*dir, "cluster.db"), "--shared-db", // write-through rows in one file
			"--plugins", *plugins, "--etcd", etcd.Endpoint, "--admin-token", "dev",
			"--cluster-secret", "dev-cluster-secret")
		name := fmt.Sprintf("node%d", i+1)
		out := &linePrefixer{mu: &outMu, w: stderr, prefix: []byte(name + " | ")}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", *bin, err)
		}
		procs, outs = append(procs, cmd), append(outs, out)
		addrs = append(addrs, addr)
		fmt.Fprintf(stdout, "node%d     http://%s\n", i+1, addr)
	}
	fmt.Fprintf(stdout, "\nTry:\n  %s members --addr %s\n", *bin, addrs[0])
	fmt.Fprintf(stdout, "  %s get hello --addr %s\n", *bin, addrs[len(addrs)-1])
	fmt.Fprintln(stdout, "Admin token: dev. Ctrl-C stops the cluster.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping...")
	return nil
}

// stopAll sends SIGTERM to every node and waits for each (SIGKILL after
// 15s).
func stopAll(procs []*exec.Cmd, stderr io.Writer) {
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		done := make(chan error, 1)
		go func() { done <- p.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(stderr, "devcluster: %s: %v\n", p.Path, err)
			}
		case <-time.After(15 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
}

// linePrefixer writes each line written to it to w with prefix in front,
// whole lines only, under mu (shared by every node's writer).
type linePrefixer struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte // an unfinished line
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

// flush writes an unfinished last line, once the process has exited.
func (p *linePrefixer) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *linePrefixer) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(p.prefix)
	p.w.Write(line)
}
