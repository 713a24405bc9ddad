package examples

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/plugin"
)

// An example is one directory below plugins/examples: the command its
// README gives to build it (run in a copy of the directory) and the
// module the command writes.
type example struct {
	dir     string
	env     []string // set for the command, beside the test's environment
	command []string
	out     string
	tools   []string // what the command needs on the PATH
	install string   // how to get them (Debian)
}

var (
	goModule = example{
		dir:     "go-module",
		env:     []string{"GOOS=wasip1", "GOARCH=wasm"},
		command: []string{"go", "build", "-buildmode=c-shared", "-o", "mypolicy.wasm", "."},
		out:     "mypolicy.wasm",
		tools:   []string{"go"},
		install: "see https://go.dev/doc/install",
	}
	cExample = example{
		dir: "c",
		command: []string{"clang", "--target=wasm32", "-mcpu=mvp", "-O2", "-nostdlib", "-fno-builtin",
			"-Wl,--no-entry", "-Wl,--stack-first", "-Wl,--export=distcache_abi_version",
			"-o", "clock-c.wasm", "clock.c"},
		out:     "clock-c.wasm",
		tools:   []string{"clang", "wasm-ld"},
		install: "apt-get install -y clang lld",
	}
	watExample = example{
		dir:     "wat",
		command: []string{"wat2wasm", "--debug-names", "-o", "fifo-wat.wasm", "fifo.wat"},
		out:     "fifo-wat.wasm",
		tools:   []string{"wat2wasm"},
		install: "apt-get install -y wabt",
	}
)

// TestGoModuleExample builds the Go example as the module of its own it
// is, outside this repository's workspace: a copy in a temporary
// directory whose go.mod points at this checkout's sdk/policy. It runs the
// example's own tests there, then the module on a group.
func TestGoModuleExample(t *testing.T) {
	t.Parallel()
	dir := copyExample(t, goModule)
	sdk, err := filepath.Abs(filepath.Join("..", "..", "sdk", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	goCmd(t, dir, "mod", "edit", "-replace", "github.com/distcache/distcache/sdk/policy="+sdk)
	goCmd(t, dir, "test", "-count=1", "./...") // the example's native tests
	wasm := build(t, goModule, dir)
	exercise(t, "mypolicy", wasm)
}

// TestCExample builds the C example with clang and serves a group with
// it. Its distcache.log import must reach the node's log, and when its
// memory cannot grow it must say so there and trap.
func TestCExample(t *testing.T) {
	t.Parallel()
	wasm := build(t, cExample, copyExample(t, cExample))
	if logs := exercise(t, "clock-c", wasm); !strings.Contains(logs, `level=INFO msg="clock-c: started" plugin=clock-c`) {
		t.Errorf("no line of the policy's own in the node's log:\n%s", logs)
	}
	outOfMemory(t, "clock-c", wasm, "policy_update")
}

// TestWATExample builds the WAT example with wat2wasm and serves a group
// with it. Built with --debug-names, it is named in a trap's stack trace.
func TestWATExample(t *testing.T) {
	t.Parallel()
	wasm := build(t, watExample, copyExample(t, watExample))
	exercise(t, "fifo-wat", wasm)
	outOfMemory(t, "fifo-wat", wasm, ".new_node()")
}

// copyExample checks the example's tools are installed (skipping
// without them, failing under DISTCACHE_REQUIRE_TOOLS=1) and that its
// README gives the command the test runs, and copies its files to a
// temporary directory.
func copyExample(t *testing.T, ex example) string {
	t.Helper()
	for _, tool := range ex.tools {
		if _, err := exec.LookPath(tool); err != nil {
			testtool.Missing(t, fmt.Sprintf("%s is not installed, to build plugins/examples/%s", tool, ex.dir), ex.install)
		}
	}
	readme, err := os.ReadFile(filepath.Join(ex.dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(append(append([]string(nil), ex.env...), ex.command...), " ")
	if !strings.Contains(joinLines(string(readme)), want) {
		t.Errorf("%s/README.md does not give the command the test builds with:\n%s", ex.dir, want)
	}
	dst := t.TempDir()
	entries, err := os.ReadDir(ex.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(ex.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// joinLines joins shell lines continued with a backslash.
func joinLines(s string) string { return regexp.MustCompile(`\\\n\s*`).ReplaceAllString(s, "") }

// build runs the example's command in dir and returns the module.
func build(t *testing.T, ex example, dir string) []byte {
	t.Helper()
	cmd := exec.Command(ex.command[0], ex.command[1:]...)
	cmd.Dir = dir
	cmd.Env = append(goEnv(), ex.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, ex.out))
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// goEnv is the test's environment for a module outside the workspace:
// no go.work, and go.mod may be updated.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "GOOS", "GOARCH", "GOWORK", "GOFLAGS":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "GOWORK=off", "GOFLAGS=-mod=mod")
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = childproc.Buffer

// compile compiles wasm as plugin name on a runtime of cfg whose log is
// returned, and checks it is a policy.
func compile(t *testing.T, cfg plugin.Config, name string, wasm []byte) (*plugin.Module, *syncBuffer) {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	rt, err := plugin.NewRuntime(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Compile(ctx, name, wasm)
	if err != nil {
		t.Fatalf("the node refuses the module: %v", err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	if mod.Kind() != plugin.KindPolicy {
		t.Fatalf("kind %q, want %q", mod.Kind(), plugin.KindPolicy)
	}
	return mod, logs
}

// exercise compiles wasm on the node's plugin runtime and serves a group
// with it: a skewed trace of gets, with a fresh instance swapped in half
// way (the group replays its resident keys into it), then a trace replay
// of the kind cmd/replay runs. The group must stay within its capacity,
// evict, hit, and never evict by itself; the instances must not fail.
// It returns the runtime's log.
func exercise(t *testing.T, name string, wasm []byte) string {
	t.Helper()
	ctx := context.Background()
	mod, logs := compile(t, plugin.Config{}, name, wasm)
	newPolicy := func(capacity int64) *plugin.Policy {
		p, err := mod.NewPolicy(ctx, capacity)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}

	const capacity = 256 << 10 // about 1,400 entries of the 5,000 keys
	first := newPolicy(capacity)
	value := make([]byte, 100)
	g, err := cache.NewGroup(cache.Config{Name: name, Capacity: capacity, Policy: first,
		Loader: cache.LoaderFunc(func(context.Context, string) (cache.Loaded, error) {
			return cache.Loaded{Value: value}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	keys, err := trace.Collect(trace.Zipf(30_000, 5_000, 0.9, 1))
	if err != nil {
		t.Fatal(err)
	}
	second := first
	for i, k := range keys {
		if i == len(keys)/2 {
			second = newPolicy(capacity)
			g.SetPolicy(second)
		}
		if _, err := g.Get(ctx, fmt.Sprintf("key-%d", k)); err != nil {
			t.Fatal(err)
		}
		if s := g.Stats(); s.Bytes > s.Capacity {
			t.Fatalf("after %d gets the group holds %d bytes, over its capacity of %d", i+1, s.Bytes, s.Capacity)
		}
	}
	s := g.Stats()
	t.Logf("%s: %d gets, %d hits (%.1f%%), %d evictions, %d items, %d bytes", name, s.Gets, s.Hits, 100*s.HitRatio(), s.Evictions, s.Items, s.Bytes)
	for _, p := range []*plugin.Policy{first, second} {
		if err := p.Err(); err != nil {
			t.Fatalf("the policy instance failed: %v", err)
		}
	}
	if want := name + " (wasm "; !strings.HasPrefix(s.Policy, want) {
		t.Errorf("the group's policy is %q, want %s...", s.Policy, want)
	}
	if s.Fallbacks != 0 {
		t.Errorf("the group evicted %d entries by itself: the policy named none it held", s.Fallbacks)
	}
	if s.Evictions == 0 || s.Hits == 0 {
		t.Errorf("%d evictions and %d hits, want some of each", s.Evictions, s.Hits)
	}

	// cmd/replay's way: entries of cost 1, so capacity counts entries.
	p := newPolicy(1_000)
	hits, total, err := trace.Replay(p, trace.Zipf(50_000, 10_000, 0.9, 2), 1_000)
	if err == nil {
		err = p.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	if hits == 0 {
		t.Errorf("replay: no hit in %d requests", total)
	}
	return logs.String()
}

// outOfMemory fills a group far bigger than the 1 MiB its policy instance
// may use: the instance must log that it is out of memory and trap (the
// trace naming inTrace), and the group must stay within its capacity.
func outOfMemory(t *testing.T, name string, wasm []byte, inTrace string) {
	t.Helper()
	ctx := context.Background()
	mod, logs := compile(t, plugin.Config{PolicyMemoryLimitMiB: 1}, name, wasm)
	const capacity = 1 << 30
	p, err := mod.NewPolicy(ctx, capacity)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	g, err := cache.NewGroup(cache.Config{Name: name, Capacity: capacity, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	for i := 0; i < 200_000 && p.Err() == nil; i++ {
		if err := g.Set(ctx, fmt.Sprint(i), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if s := g.Stats(); s.Bytes > s.Capacity {
		t.Fatalf("the group holds %d bytes, over its capacity of %d", s.Bytes, s.Capacity)
	}
	err = p.Err()
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), inTrace) {
		t.Fatalf("after filling 1 MiB the instance's error is %v, want a trap at unreachable naming %s", err, inTrace)
	}
	want := fmt.Sprintf(`level=ERROR msg="%s: out of memory; the host's native LRU takes over" plugin=%s`, name, name)
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "reason=trap") {
		t.Errorf("the log lacks %s and the trap:\n%s", want, logs)
	}
}
