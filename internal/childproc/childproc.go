// Package childproc starts and stops the server processes the project's
// measuring tools (cmd/loadgen, cmd/memtest) run beside themselves: a
// node built from this module, or redis-server, each on a free loopback
// port, stopped with SIGTERM at the end.
package childproc

import (
	"bytes"
	"context"
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

// Child is a server process a run started and must stop.
type Child struct {
	name   string
	cmd    *exec.Cmd
	output *tailBuffer
	done   chan struct{} // closed once the process has exited
}

// Start starts argv, pinned to cpu with taskset when cpu >= 0, with env as
// its environment; its output is kept (the last 16 KiB) for errors.
func Start(name string, cpu int, env []string, argv ...string) (*Child, error) {
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	c := &Child{name: name, cmd: exec.Command(argv[0], argv[1:]...), output: &tailBuffer{}, done: make(chan struct{})}
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

// Pid is the process's id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Output is the end of what the process wrote to stdout and stderr.
func (c *Child) Output() string { return c.output.String() }

// WaitListening waits until addr accepts a connection, or fails when the
// child exits first or 30 s pass.
func (c *Child) WaitListening(ctx context.Context, addr string) error {
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

// Stop sends SIGTERM and waits for the exit, killing the process after
// 10 s.
func (c *Child) Stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// BuildNode builds the module's ./server into dir and returns its path;
// it must run inside the distcache module.
func BuildNode(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("building the node needs the distcache module here (go env GOMOD: %q, %v); or give the binary with -bin", gomod, err)
	}
	bin := filepath.Join(dir, "distcache")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./server")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./server: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// NodeEnv is this process's environment without DISTCACHE_* variables, so
// a node runs with the flags given and nothing else, plus extra.
func NodeEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISTCACHE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
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

// Buffer is a bytes.Buffer safe for concurrent Write and String: a
// child's stdout or stderr that a test reads while the child runs.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns a copy of everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
