package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// requireTool finds name on PATH, or skips the test saying how to install
// it; where DISTCACHE_REQUIRE_TOOLS=1 (as .ci/run sets) it fails instead.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	why := fmt.Sprintf("%s is not installed: %s", name, install)
	if os.Getenv("DISTCACHE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s (DISTCACHE_REQUIRE_TOOLS=1)", why)
	}
	t.Skip(why)
	return ""
}

// repoRoot is the distcache module's directory, one above this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "server", "main.go")); err != nil {
		t.Fatalf("no distcache module above deploy/: %v", err)
	}
	return root
}

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// nodeBinary builds ./server of the module above, as the Dockerfile does
// (CGO_ENABLED=0, -trimpath, -ldflags=-s -w), once per test binary, and
// returns its path.
func nodeBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "distcache-deploy-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "distcache")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", built.path, "./server")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./server: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// TestMain removes the node binary's directory at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

var helpFlag = regexp.MustCompile(`(?m)^\s+-([a-z0-9][a-z0-9-]*)\b`)

// nodeFlags is the set of flag names `distcache -h` lists.
func nodeFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(nodeBinary(t), "-h").CombinedOutput()
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["addr"] || !flags["etcd"] || !flags["advertise"] {
		t.Fatalf("distcache -h lists no --addr, --etcd or --advertise; its output:\n%s", out)
	}
	return flags
}

// checkArgs fails for each --flag in args, or DISTCACHE_* variable in env,
// that names no flag of the node. where says which file they come from.
func checkArgs(t *testing.T, flags map[string]bool, where string, args, env []string) {
	t.Helper()
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			t.Errorf("%s: argument %q: the node has no flag --%s", where, a, name)
		}
	}
	for _, e := range env {
		rest, ok := strings.CutPrefix(e, "DISTCACHE_")
		if !ok {
			continue
		}
		name := strings.ReplaceAll(strings.ToLower(rest), "_", "-")
		if !flags[name] {
			t.Errorf("%s: environment variable %s: the node has no flag --%s", where, e, name)
		}
	}
}
