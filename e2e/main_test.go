package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/sqltest"
)

// Deadlines that only keep a broken test from hanging; nothing asserts
// on speed.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	buildTimeout = 10 * time.Minute
)

// binaries names the executables TestMain prepares.
type binaries struct {
	// distcache is the server binary built from ./server.
	distcache string
	// buf is the buf binary of the module's tool directive.
	buf string
}

// bins is written once by TestMain before any test runs and only read
// afterwards.
var bins binaries

// TestMain builds the server once, resolves buf, runs the tests and
// removes the build directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distcache-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := 1
	if bins, err = prepare(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	} else {
		code = sqltest.Run(m) // and stops the database servers it started
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// prepare builds the server into dir and finds the buf binary.
func prepare(dir string) (binaries, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	gomod, err := goCmd(ctx, "", "env", "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		return binaries{}, fmt.Errorf("finding the module root: %q, %v", gomod, err)
	}
	root := filepath.Dir(gomod)
	b := binaries{distcache: filepath.Join(dir, "distcache")}
	if _, err := goCmd(ctx, root, "build", "-o", b.distcache, "github.com/distcache/distcache/server"); err != nil {
		return binaries{}, err
	}
	if b.buf, err = goCmd(ctx, root, "tool", "-n", "buf"); err != nil {
		return binaries{}, err
	}
	return b, nil
}

// goCmd runs the go command in dir and returns its trimmed stdout.
func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// syncBuffer is a child's output read while it runs.
type syncBuffer = childproc.Buffer

// nodeProc is one running server process started by startNode.
type nodeProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	errBuf  *syncBuffer
	done    chan struct{} // closed once the process has exited
	code    int           // exit code; valid after done is closed
	baseURL string        // such as http://127.0.0.1:PORT
}

// childEnv returns this process's environment without any DISTCACHE_*
// variable, plus extra ("NAME=value"), so a node sees only what a test
// gives it.
func childEnv(extra ...string) []string {
	// Nodes stop at once on SIGTERM unless a test asks for a drain with
	// --shutdown-delay (a flag beats the variable).
	return childproc.NodeEnv(append([]string{"DISTCACHE_SHUTDOWN_DELAY=0s"}, extra...)...)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode starts a node on a free loopback port with a fresh database
// and args, waits until it serves, and stops it when the test ends.
func startNode(t *testing.T, args ...string) *nodeProc {
	t.Helper()
	return startNodeEnv(t, nil, args...)
}

// startNodeEnv is startNode with extra environment variables
// ("NAME=value") for the node.
func startNodeEnv(t *testing.T, env []string, args ...string) *nodeProc {
	t.Helper()
	addr, dir := freeAddr(t), t.TempDir()
	args = append([]string{"--addr", addr, "--db", filepath.Join(dir, "x.db")}, args...)
	p := &nodeProc{t: t, errBuf: &syncBuffer{}, done: make(chan struct{}), baseURL: "http://" + addr}
	p.cmd = exec.Command(bins.distcache, args...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stderr = dir, childEnv(env...), p.errBuf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", addr, p.stderr())
		}
	})
	p.waitReady(t, addr)
	return p
}

// waitReady waits until the node logs msg=serving and accepts
// connections on addr, failing the test if it exits or takes too long.
func (p *nodeProc) waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("node exited with code %d before serving (stderr logged below)", p.code)
		case <-time.After(50 * time.Millisecond):
		}
		if !strings.Contains(p.stderr(), "msg=serving") {
			continue
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("node not serving on %s after %v (stderr logged below)", addr, readyTimeout)
}

// stderr returns everything the node has written to stderr so far.
func (p *nodeProc) stderr() string { return p.errBuf.String() }

// stop sends sig (unless the node has exited already), waits for the
// exit, killing the node if it takes more than stopTimeout, and returns
// its exit code (-1 if killed) and stderr. Calling it again returns the
// same result.
func (p *nodeProc) stop(sig os.Signal) (exitCode int, stderr string) {
	select {
	case <-p.done:
		return p.code, p.stderr()
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Logf("signal %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.t.Errorf("node did not exit within %v of %v; killing it", stopTimeout, sig)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.code, p.stderr()
}

// curlResult is the outcome of one buf curl run.
type curlResult struct {
	stdout, stderr string
	code           int // exit code
}

// bufCurl runs `buf curl args...` and returns its output and exit code;
// a run that cannot start or outlives readyTimeout fails the test.
func bufCurl(t *testing.T, args ...string) curlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.buf, append([]string{"curl"}, args...)...)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("buf curl %s: no answer within %v", strings.Join(args, " "), readyTimeout)
	}
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("buf curl: %v", err)
	}
	return curlResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
