//go:build unix

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// etcdProcess is a real etcd running in a process of its own
// (testdata/etcdproc), so a test can freeze it with SIGSTOP, which
// startEtcd's in-process etcd cannot do.
type etcdProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed once the process has exited
	endpoint       string        // the client address, host:port
}

// etcdprocBuild is the etcdproc binary, built once per test binary into
// TestMain's build directory (removed with it).
var etcdprocBuild struct {
	once sync.Once
	path string
	err  error
}

// etcdprocBinary builds testdata/etcdproc on first use and returns its
// path, failing t if the build fails.
func etcdprocBinary(t *testing.T) string {
	t.Helper()
	etcdprocBuild.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		etcdprocBuild.path = filepath.Join(filepath.Dir(bins.distcache), "etcdproc")
		_, etcdprocBuild.err = goCmd(ctx, "", "build", "-o", etcdprocBuild.path,
			"github.com/distcache/distcache/e2e/testdata/etcdproc")
	})
	if etcdprocBuild.err != nil {
		t.Fatalf("building etcdproc: %v", etcdprocBuild.err)
	}
	return etcdprocBuild.path
}

// startEtcdProcess starts etcd on free loopback ports with a fresh data
// directory, waits until it serves, and stops it when the test ends
// (after every node started later, whose cleanups run first).
func startEtcdProcess(t *testing.T) *etcdProcess {
	t.Helper()
	e := &etcdProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(etcdprocBinary(t), "-dir", t.TempDir(), "-client", freeAddr(t), "-peer", freeAddr(t))
	e.cmd.Env, e.cmd.Stdout, e.cmd.Stderr = childEnv(), e.stdout, e.stderr
	// etcdproc exits when its stdin ends: when this process is gone.
	if _, err := e.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(func() { e.stop(t) })
	deadline := time.Now().Add(readyTimeout)
	for e.endpoint == "" {
		select {
		case <-e.done:
			t.Fatalf("etcdproc exited before serving; stderr:\n%s", e.stderr.String())
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcdproc not ready after %v; stderr:\n%s", readyTimeout, e.stderr.String())
		}
		if line := lineWith(e.stdout.String(), "ready "); line != "" {
			e.endpoint = strings.TrimPrefix(line, "ready ")
		}
	}
	return e
}

// signal sends sig to etcd, failing t if it cannot.
func (e *etcdProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to etcd: %v", sig, err)
	}
}

// stop thaws etcd in case it is frozen, stops it with SIGTERM and waits,
// killing it if it takes more than stopTimeout.
func (e *etcdProcess) stop(t *testing.T) {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGCONT)
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(stopTimeout):
		t.Errorf("etcd did not exit within %v of SIGTERM; killing it", stopTimeout)
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}
