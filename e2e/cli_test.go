package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// cliRun runs the distcache binary as the command line client with env
// ("NAME=value") and stdin, and returns its exit code, stdout and stderr.
func cliRun(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.distcache, args...)
	cmd.Env = childEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("distcache %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestCLIProcess drives the node binary's client commands as a shell
// user would: DISTCACHE_ADDR, a value on stdin, the raw value on stdout,
// the exit codes, and the client's flags before the command.
func TestCLIProcess(t *testing.T) {
	n := startNode(t)
	addr := strings.TrimPrefix(n.baseURL, "http://")
	env := []string{"DISTCACHE_ADDR=" + addr}

	if code, out, errOut := cliRun(t, env, "line one\nline two\n", "set", "--ttl", "1h", "doc"); code != 0 || out != "OK\n" {
		t.Fatalf("set from stdin: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := cliRun(t, env, "", "get", "doc"); code != 0 || out != "line one\nline two\n" {
		t.Errorf("get: exit %d, stdout %q, stderr %q; want the stdin bytes exactly", code, out, errOut)
	}
	// The client's flags may come before the command, as with redis-cli.
	if code, out, errOut := cliRun(t, nil, "", "--addr", addr, "get", "doc"); code != 0 || out != "line one\nline two\n" {
		t.Errorf("--addr before get: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := cliRun(t, env, "", "get", "no-such-key"); code != 1 || out != "" {
		t.Errorf("get of a missing key: exit %d, stdout %q; want 1 and nothing", code, out)
	}
	if code, _, errOut := cliRun(t, env, "", "get"); code != 2 || !strings.Contains(errOut, "missing argument") {
		t.Errorf("get without a key: exit %d, stderr %q; want 2", code, errOut)
	}
	if code, _, errOut := cliRun(t, []string{"DISTCACHE_ADDR=" + freeAddr(t)}, "", "get", "doc", "--timeout", "5s"); code != 4 {
		t.Errorf("get from a port nobody serves: exit %d, stderr %q; want 4", code, errOut)
	}
	if code, out, _ := cliRun(t, env, "", "members"); code != 0 || !strings.Contains(out, addr) {
		t.Errorf("members: exit %d, stdout %q", code, out)
	}
	// The node it talked to is still up and kept the value.
	if code, out, _ := cliRun(t, env, "", "get", "doc"); code != 0 || out != "line one\nline two\n" {
		t.Errorf("get after the failures: exit %d, stdout %q", code, out)
	}
}
