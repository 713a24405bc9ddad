package plugin

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// within runs f and fails the test if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
}

func TestReloadRefusesFilesThatAreNotModules(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string)
		want  string
		limit int64 // default limit
	}{
		{"named pipe", func(t *testing.T, path string) { mkfifo(t, path) }, "not a regular file (a named pipe)", 0},
		{"symlink to a named pipe", func(t *testing.T, path string) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			mkfifo(t, fifo)
			symlink(t, fifo, path)
		}, "not a regular file (a named pipe)", 0},
		{"symlink to /dev/zero", func(t *testing.T, path string) { symlink(t, "/dev/zero", path) }, "not a regular file (a device)", 0},
		{"directory", func(t *testing.T, path string) { os.Mkdir(path, 0o755) }, "not a regular file (a directory)", 0},
		{"over the size limit", func(t *testing.T, path string) { sparse(t, path, limit+1) }, "1048577 bytes, over the plugin size limit of 1048576 bytes", 0},
		{"at the size limit", func(t *testing.T, path string) { sparse(t, path, limit) }, "not a valid WebAssembly module", 0},
		// A /proc file says it is empty: the limit holds for what is read.
		{"grows past the limit while read", func(t *testing.T, path string) {
			if _, err := os.Stat("/proc/self/status"); err != nil {
				t.Skip("no /proc here")
			}
			symlink(t, "/proc/self/status", path)
		}, "grew past the plugin size limit of 16 bytes while being read", 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit == 0 {
				tc.limit = limit
			}
			rt := newTestRuntime(t, Config{MaxModuleBytes: tc.limit})
			dir := t.TempDir()
			path := filepath.Join(dir, "p.wasm")
			tc.make(t, path)
			m := NewManager(rt.Runtime, dir)
			t.Cleanup(m.Close)
			var err error
			within(t, 5*time.Second, "Reload", func() { err = m.Reload(context.Background(), path) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Reload = %v, want an error naming %s and containing %q", err, path, tc.want)
			}
			if !strings.Contains(rt.logs.String(), tc.want) {
				t.Fatalf("the log does not give the reason:\n%s", rt.logs)
			}
			if mods, _ := rt.live(); mods != 0 {
				t.Fatalf("%d modules live after the refusal", mods)
			}
		})
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// sparse makes a file of size bytes that takes no room on disk.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// TestLoadAllAndWatcherSkipNamedPipes: a named pipe in the plugins
// directory, there at start or dropped in later, stops neither the start
// nor the watcher, nor their shutdown.
func TestLoadAllAndWatcherSkipNamedPipes(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "a.wasm"))
	writeModule(t, dir, "p", tinyPolicy())
	m := NewManager(rt.Runtime, dir)
	t.Cleanup(m.Close)
	w, err := m.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "LoadAll", func() { err = m.LoadAll(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Plugins(); len(got) != 1 || got[0].Name != "p" {
		t.Fatalf("plugins = %+v, want p alone", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	mkfifo(t, filepath.Join(dir, "b.wasm"))
	waitFor(t, "the watcher to refuse b.wasm", func() bool {
		return rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "b", "reason": reasonFile}) == 1
	})
	// The watcher still works after it.
	writeModule(t, dir, "c", tinyPolicy())
	waitFor(t, "the watcher to load c.wasm", func() bool { return len(m.Plugins()) == 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not stop")
	}
	if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "a", "reason": reasonFile}); n != 1 {
		t.Fatalf("failures{a, file} = %d, want 1", n)
	}
}

// TestOversizedFileIsNotRead drops a 200 MB file (sparse, so cheap on
// disk) into the directory: it is refused unread, naming the limit.
func TestOversizedFileIsNotRead(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	path := filepath.Join(dir, "junk.wasm")
	sparse(t, path, 200<<20)
	m := NewManager(rt.Runtime, dir)
	t.Cleanup(m.Close)
	settle()
	rss := rssKiB(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := m.Reload(context.Background(), path)
	runtime.ReadMemStats(&after)
	want := "over the plugin size limit of 67108864 bytes"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Reload = %v, want an error containing %q", err, want)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Fatalf("refusing it allocated %d bytes: the file was read", grown)
	}
	settle()
	t.Logf("RSS before the 200 MB file: %d KiB, after its refusal: %d KiB", rss, rssKiB(t))
}
