package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Deadlines that only keep a broken child from hanging a run.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	buildTimeout = 5 * time.Minute
)

// child is a server process this run started and must stop.
type child struct {
	name   string
	cmd    *exec.Cmd
	output *tailBuffer
	done   chan struct{} // closed once the process has exited
}

// startChild starts argv, pinned to cpu with taskset when cpu >= 0, with
// env as its environment.
func startChild(name string, cpu int, env []string, argv ...string) (*child, error) {
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	c := &child{name: name, cmd: exec.Command(argv[0], argv[1:]...), output: &tailBuffer{}, done: make(chan struct{})}
	c.cmd.Env, c.cmd.Stdout, c.cmd.Stderr = env, c.output, c.output
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// waitListening waits until addr accepts a connection, or fails when the
// child exits first or readyTimeout passes.
func (c *child) waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before listening on %s: %s\n%s", c.name, addr, c.cmd.ProcessState, c.output)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not listening on %s after %v:\n%s", c.name, addr, readyTimeout, c.output)
}

// stop sends SIGTERM and waits for the exit, killing the process after
// stopTimeout.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// startNode starts a node on a free loopback port with a temporary
// database and one group without a loader, and returns it with its base
// URL. bin empty builds ./server into dir first.
func startNode(ctx context.Context, o *options, dir string, cpu int) (*child, string, error) {
	bin := o.bin
	if bin == "" {
		var err error
		if bin, err = buildNode(ctx, dir); err != nil {
			return nil, "", err
		}
	}
	groups := filepath.Join(dir, "groups.yaml")
	yaml := fmt.Sprintf("groups:\n  - name: %s\n    capacity: 256MiB\n", o.group)
	if err := os.WriteFile(groups, []byte(yaml), 0o644); err != nil {
		return nil, "", err
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild("node", cpu, nodeEnv(), bin, "--addr", addr, "--db", filepath.Join(dir, "bench.db"),
		"--config", groups, "--plugins", plugins, "--plugin-cache", "", "--log-level", "warn", "--shutdown-delay", "0s")
	if err != nil {
		return nil, "", err
	}
	if err := c.waitListening(ctx, addr); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, "http://" + addr, nil
}

// buildNode builds the module's ./server into dir and returns its path.
func buildNode(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("-start without -bin must run inside the distcache module (go env GOMOD: %q, %v)", gomod, err)
	}
	bin := filepath.Join(dir, "distcache")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./server")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./server: %w\n%s", err, out)
	}
	return bin, nil
}

// nodeEnv is this process's environment without DISTCACHE_* variables, so
// the node runs with the flags given and nothing else.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISTCACHE_") {
			env = append(env, kv)
		}
	}
	return env
}

// startRedis starts redis-server on a free loopback port without
// persistence, and returns it with its address.
func startRedis(ctx context.Context, dir string, cpu int) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	c, err := startChild("redis-server", cpu, os.Environ(), "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	if err != nil {
		return nil, "", err
	}
	if err := c.waitListening(ctx, addr); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, addr, nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last 16 KiB written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const tailBytes = 16 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - tailBytes; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// errNoRedis says why a run has no Redis column.
var errNoRedis = errors.New("redis-server not found; apt-get install -y redis-server to compare with Redis")
