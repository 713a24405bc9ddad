// Package wasmbuild builds this module's plugin sources to WebAssembly for
// tests and benchmarks, once per test binary. A fresh clone has no built
// modules, so tests build what they need themselves.
package wasmbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Builder builds Go packages with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared into a temporary directory and caches the results.
// The zero value is ready; it is safe for concurrent use.
type Builder struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string
}

// Root returns the module's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Dir returns the builder's directory, making it on first use.
func (b *Builder) Dir(t testing.TB) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dirLocked(t)
}

func (b *Builder) dirLocked(t testing.TB) string {
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "distcache-wasm-")
		if err != nil {
			t.Fatal(err)
		}
		b.dir, b.paths = dir, map[string]string{}
	}
	return b.dir
}

// Path builds pkg (a path relative to the module root, such as
// "policy/lru") if it has not been built yet and returns the .wasm file.
func (b *Builder) Path(t testing.TB, pkg string) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	dir := b.dirLocked(t)
	if out, ok := b.paths[pkg]; ok {
		return out
	}
	out := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "_")+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+pkg)
	cmd.Dir = Root()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s to wasm: %v\n%s", pkg, err, msg)
	}
	b.paths[pkg] = out
	return out
}

// Bytes is Path, returning the file's contents.
func (b *Builder) Bytes(t testing.TB, pkg string) []byte {
	t.Helper()
	data, err := os.ReadFile(b.Path(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Cleanup removes everything built. Call it from TestMain after m.Run.
func (b *Builder) Cleanup() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
