package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/childproc"
)

// TestCtrlCExitsCleanly runs the local cluster as a terminal does, in its
// own process group, and sends that group SIGINT as Ctrl-C does: the
// command exits 0, prints no stack trace, and every node's log lines
// carry its name.
func TestCtrlCExitsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	node, err := childproc.BuildNode(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "devcluster")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", self, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr childproc.Buffer
	cmd := exec.Command(self, "-bin", node, "-nodes", "2", "-port", "0", "-etcd", "127.0.0.1:0",
		"-dir", filepath.Join(dir, "cluster"), "-plugins", filepath.Join(dir, "plugins"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = childproc.NodeEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{}) // closed once the process has exited
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})

	// Wait until both nodes answer /readyz.
	nodeURL := regexp.MustCompile(`(?m)^node\d +(http://\S+)$`)
	deadline := time.Now().Add(time.Minute)
	for {
		ready := 0
		for _, m := range nodeURL.FindAllStringSubmatch(stdout.String(), -1) {
			if res, err := http.Get(m[1] + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					ready++
				}
			}
		}
		if ready == 2 {
			break
		}
		select {
		case <-done:
			t.Fatalf("devcluster exited early: %v\nstdout:\n%s\nstderr:\n%s", waitErr, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes not ready within a minute\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}

	// Ctrl-C reaches every process of the terminal's group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("devcluster after Ctrl-C: %v, want exit 0", waitErr)
		}
	case <-time.After(time.Minute):
		t.Fatal("devcluster still running a minute after Ctrl-C")
	}
	all := stdout.String() + stderr.String()
	for _, bad := range []string{"stacktrace", "goroutine ", "panic", "level=ERROR", `"level":"error"`} {
		if strings.Contains(all, bad) {
			t.Errorf("output has %q:\n%s", bad, all)
		}
	}
	if !strings.Contains(stdout.String(), "stopping...") {
		t.Errorf("stdout does not say it is stopping:\n%s", stdout.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(line, "node1 | ") && !strings.HasPrefix(line, "node2 | ") {
			t.Errorf("stderr line without a node's name: %q", line)
		}
	}
	for _, want := range []string{"node1 | ", "node2 | "} {
		if !strings.Contains(stderr.String(), want) || !regexp.MustCompile(regexp.QuoteMeta(want)+`.*msg="stopped serving"`).MatchString(stderr.String()) {
			t.Errorf("stderr has no %q line saying it stopped serving:\n%s", want, stderr.String())
		}
	}
}
