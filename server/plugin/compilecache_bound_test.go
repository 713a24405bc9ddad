package plugin

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cacheSize returns the bytes of wazero's files under dir.
func cacheSize(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := listCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	return total
}

// compileVersion compiles version v of the tiny policy; the module is
// released at the end of the test.
func compileVersion(t *testing.T, rt *testRuntime, v int) {
	t.Helper()
	m, err := rt.Compile(context.Background(), "p", withVersion(tinyPolicy(), v, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
}

// cacheFileSize is the size of the tiny policy's cache file.
func cacheFileSize(t *testing.T) int64 {
	dir := t.TempDir()
	compileVersion(t, newTestRuntime(t, Config{CacheDir: dir}), 0)
	return cacheSize(t, dir)
}

// TestCompileCacheBounded compiles 40 distinct modules with a cache that
// holds four and a half of them: the cache stays under it, a module
// compiled again counts as used (it outlives ones compiled after it but
// used less recently), and files that are not wazero's are left alone.
func TestCompileCacheBounded(t *testing.T) {
	one := cacheFileSize(t)
	limit := 4*one + one/2
	dir := t.TempDir()
	other := filepath.Join(dir, "not-a-cache-file")
	if err := os.WriteFile(other, make([]byte, 2*limit), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := newTestRuntime(t, Config{CacheDir: dir, CacheMaxBytes: limit})
	compileVersion(t, rt, 0)
	first := rt.cacheFiles[sha256hex(withVersion(tinyPolicy(), 0, 0))]
	if first == "" {
		t.Fatal("the runtime did not learn which cache file is version 0's")
	}
	for v := 1; v < 40; v++ {
		compileVersion(t, rt, v)
		compileVersion(t, rt, 0) // version 0 stays in use
		if size := cacheSize(t, dir); size > limit {
			t.Fatalf("after %d modules the cache holds %d bytes, over its limit of %d", v+1, size, limit)
		}
	}
	if _, err := os.Stat(first); err != nil {
		t.Fatalf("the most used module's cache file was evicted: %v", err)
	}
	files, err := listCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("the cache keeps %d files, want the 4 that fit", len(files))
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a file that is not wazero's was touched: %v", err)
	}
	t.Logf("cache: %d files, %d bytes (limit %d)", len(files), cacheSize(t, dir), limit)
}

// TestCompileCacheEvictsOlderWazeroVersions: files left by another wazero
// version count against the limit and go first, being the least recent.
func TestCompileCacheEvictsOlderWazeroVersions(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "wazero-v0.0.1-amd64-linux")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "0123"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := newTestRuntime(t, Config{CacheDir: dir, CacheMaxBytes: 1 << 20})
	compileVersion(t, rt, 0)
	if _, err := os.Stat(filepath.Join(old, "0123")); !os.IsNotExist(err) {
		t.Fatalf("the older version's file is still there (%v)", err)
	}
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, _ error) error {
		if d != nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Fatalf("%d files in the cache, want 1 (the module just compiled)", n)
	}
}

// TestNewRuntimeBadCacheDirLeaksNothing makes NewRuntime fail at its
// compilation cache (a file where the directory should be): it returns an
// error naming the directory and leaves no goroutine behind (the package's
// TestMain checks for leaks after every test).
func TestNewRuntimeBadCacheDirLeaksNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewRuntime(context.Background(), Config{CacheDir: filepath.Join(file, "cache")})
	if err == nil || !strings.Contains(err.Error(), "compilation cache") {
		t.Fatalf("NewRuntime with a bad cache dir = %v, want an error naming the compilation cache", err)
	}
}
