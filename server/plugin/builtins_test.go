package plugin

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// gz returns b gzipped.
func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pluginInfo returns the manager's Info of name, or false.
func pluginInfo(m *Manager, name string) (Info, bool) {
	for _, info := range m.Plugins() {
		if info.Name == name {
			return info, true
		}
	}
	return Info{}, false
}

// builtinManager is a manager over dir with builtins, loaded, and a group
// bound to policy.
func builtinManager(t *testing.T, rt *testRuntime, dir string, builtins fstest.MapFS, policy string) (*Manager, *cache.Group) {
	t.Helper()
	m := NewManager(rt.Runtime, dir)
	if err := m.SetBuiltins(builtins); err != nil {
		t.Fatal(err)
	}
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.BindPolicy(context.Background(), g, policy, 1<<20); err != nil {
		t.Fatal(err)
	}
	return m, g
}

// TestBuiltinsLoadUnlessAFileOverrides: built-in modules (gzipped or not)
// load when the directory has no file of their name; a file of the same
// name is loaded instead; Plugins says which is which.
func TestBuiltinsLoadUnlessAFileOverrides(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	p, q, qFile := withVersion(tinyPolicy(), 1, 0), withVersion(tinyPolicy(), 2, 0), withVersion(tinyPolicy(), 3, 0)
	qPath := writeModule(t, dir, "q", qFile)
	m, g := builtinManager(t, rt, dir, fstest.MapFS{
		"p.wasm.gz": {Data: gz(t, p)},
		"q.wasm":    {Data: q},
		"README.md": {Data: []byte("not a module")},
	}, "p")
	cases := []struct {
		name   string
		origin Origin
		file   string
		sha256 string
	}{
		{"p", OriginBuiltin, "", sha256hex(p)},
		{"q", OriginFile, qPath, sha256hex(qFile)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, ok := pluginInfo(m, c.name)
			if !ok {
				t.Fatalf("%s not loaded: %+v", c.name, m.Plugins())
			}
			if info.Origin != c.origin || info.File != c.file || info.SHA256 != c.sha256 {
				t.Fatalf("%s = origin %q, file %q, sha256 %s; want %q, %q, %s",
					c.name, info.Origin, info.File, info.SHA256, c.origin, c.file, c.sha256)
			}
		})
	}
	if n := len(m.Plugins()); n != 2 {
		t.Fatalf("%d plugins loaded, want 2: %+v", n, m.Plugins())
	}
	if got, want := g.Stats().Policy, "p (wasm "+sha256hex(p)[:8]; !strings.HasPrefix(got, want) {
		t.Fatalf("policy = %q, want %s...", got, want)
	}
}

// TestFileOverridesBuiltinThenRemovalRestoresIt: with the watcher running,
// a file dropped in replaces the built-in module in the group, and
// removing it brings the built-in one back. A file of the built-in
// module's very bytes is marked as the file without a new version.
func TestFileOverridesBuiltinThenRemovalRestoresIt(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	builtin, file := withVersion(tinyPolicy(), 10, 0), withVersion(tinyPolicy(), 11, 0)
	m, g := builtinManager(t, rt, dir, fstest.MapFS{"p.wasm.gz": {Data: gz(t, builtin)}}, "p")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w, err := m.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	serving := func(origin Origin, wasm []byte) func() bool {
		return func() bool {
			info, ok := pluginInfo(m, "p")
			return ok && info.Origin == origin && info.SHA256 == sha256hex(wasm) &&
				strings.HasPrefix(g.Stats().Policy, "p (wasm "+sha256hex(wasm)[:8])
		}
	}
	path := writeModule(t, dir, "p", file)
	waitFor(t, "the file to override the built-in module", serving(OriginFile, file))
	if info, _ := pluginInfo(m, "p"); info.File != path {
		t.Fatalf("file = %q, want %q", info.File, path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the built-in module back after the file's removal", serving(OriginBuiltin, builtin))
	if !strings.Contains(rt.logs.String(), "the built-in version is loaded in its place") {
		t.Fatalf("no log of the removal:\n%s", rt.logs)
	}

	before, _ := pluginInfo(m, "p")
	writeModule(t, dir, "p", builtin)
	waitFor(t, "a file of the built-in bytes to be marked as the file", serving(OriginFile, builtin))
	if after, _ := pluginInfo(m, "p"); !after.LoadedAt.Equal(before.LoadedAt) {
		t.Fatalf("the same bytes were loaded again (at %v, before %v)", after.LoadedAt, before.LoadedAt)
	}
}

// TestRemovedFileWithoutBuiltinKeepsServing: removing a file that has no
// built-in module of its name leaves its loaded version serving.
func TestRemovedFileWithoutBuiltinKeepsServing(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	wasm := withVersion(tinyPolicy(), 20, 0)
	path := writeModule(t, dir, "p", wasm)
	m, g := builtinManager(t, rt, dir, fstest.MapFS{}, "p")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := m.fileChanged(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if info, ok := pluginInfo(m, "p"); !ok || info.Origin != OriginFile || info.SHA256 != sha256hex(wasm) {
		t.Fatalf("after removal: %+v, want the file's version", m.Plugins())
	}
	if got := g.Stats().Policy; !strings.HasPrefix(got, "p (wasm") {
		t.Fatalf("policy = %q, want p (wasm ...)", got)
	}
	if !strings.Contains(rt.logs.String(), "its loaded version keeps serving") {
		t.Fatalf("no log of the removal:\n%s", rt.logs)
	}
}

// TestRefusedFileAtStartFallsBackToBuiltin: a file that is not a module,
// at start, is refused (logged and counted) and the built-in module of its
// name serves instead.
func TestRefusedFileAtStartFallsBackToBuiltin(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	builtin := withVersion(tinyPolicy(), 30, 0)
	writeModule(t, dir, "p", []byte("not wasm"))
	m, g := builtinManager(t, rt, dir, fstest.MapFS{"p.wasm.gz": {Data: gz(t, builtin)}}, "p")
	if info, ok := pluginInfo(m, "p"); !ok || info.Origin != OriginBuiltin || info.SHA256 != sha256hex(builtin) {
		t.Fatalf("plugins = %+v, want the built-in p", m.Plugins())
	}
	if got := g.Stats().Policy; !strings.HasPrefix(got, "p (wasm") {
		t.Fatalf("policy = %q, want p (wasm ...)", got)
	}
	if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "p", "reason": reasonInvalid}); n != 1 {
		t.Fatalf("failures{p, invalid} = %d, want 1", n)
	}
	if !strings.Contains(rt.logs.String(), "the built-in version serves until the file is fixed") {
		t.Fatalf("no log of the fallback:\n%s", rt.logs)
	}
}

// TestSetBuiltinsRefusesBadSets: bad names and duplicate names are
// refused with an error naming the files; a refused set loads nothing.
func TestSetBuiltinsRefusesBadSets(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	cases := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"bad name", fstest.MapFS{"Bad.wasm": {Data: tinyPolicy()}}, `"Bad.wasm": the name does not match`},
		{"duplicate", fstest.MapFS{"p.wasm": {Data: tinyPolicy()}, "p.wasm.gz": {Data: gz(t, tinyPolicy())}}, `"p.wasm" and "p.wasm.gz" have the same name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewManager(rt.Runtime, t.TempDir())
			t.Cleanup(m.Close)
			err := m.SetBuiltins(c.fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SetBuiltins = %v, want an error containing %s", err, c.want)
			}
			if err := m.LoadAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := m.Plugins(); len(got) != 0 {
				t.Fatalf("plugins = %+v, want none", got)
			}
		})
	}
}

// TestBadBuiltinIsRefused: a built-in module that is not gzip, or over
// the size limit once gunzipped, is refused with the reason; the others
// load.
func TestBadBuiltinIsRefused(t *testing.T) {
	rt := newTestRuntime(t, Config{MaxModuleBytes: 4096})
	m, _ := builtinManager(t, rt, t.TempDir(), fstest.MapFS{
		"bad.wasm.gz": {Data: []byte("this is not a gzip stream")},
		"big.wasm.gz": {Data: gz(t, dataPolicy(8192))},
		"ok.wasm.gz":  {Data: gz(t, tinyPolicy())},
	}, "ok")
	if got := m.Plugins(); len(got) != 1 || got[0].Name != "ok" {
		t.Fatalf("plugins = %+v, want ok alone", got)
	}
	for _, c := range []struct{ name, want string }{
		{"bad", "gzip: invalid header"},
		{"big", "over the plugin size limit of 4096 bytes"},
	} {
		if err := m.loadBuiltin(context.Background(), c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("loadBuiltin(%s) = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestLoadFirstQueuesNamesAhead: the names given to LoadFirst are among
// the first compiles even when they sort last.
func TestLoadFirstQueuesNamesAhead(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	workers := runtime.GOMAXPROCS(0)
	for i := range workers + 4 {
		writeModule(t, dir, fmt.Sprintf("a%02d", i), withVersion(tinyPolicy(), 40+i, 0))
	}
	m := NewManager(rt.Runtime, dir)
	if err := m.SetBuiltins(fstest.MapFS{"z.wasm": {Data: tinyPolicy()}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.LoadFirst("z", "missing")
	gt := newGate(func(string) bool { return true })
	ctx, cancel := context.WithCancel(gt.trace(context.Background()))
	done, err := m.StartLoadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := gt.waitEntered(t, workers)
	cancel()
	within(t, 30*time.Second, "the canceled load", func() { <-done })
	if !slices.Contains(first, "z") {
		t.Fatalf("first compiles = %v, want z among them", first)
	}
}
