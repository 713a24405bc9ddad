package plugin

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// wasmBuilds caches modules built from Go sources for the whole test run.
var wasmBuilds struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

func moduleRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildWasm builds the Go package at pkg (relative to the module root) with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and returns the file.
func buildWasm(t testing.TB, pkg string) []byte {
	t.Helper()
	wasmBuilds.Lock()
	defer wasmBuilds.Unlock()
	if wasmBuilds.paths == nil {
		dir, err := os.MkdirTemp("", "distcache-wasm-")
		if err != nil {
			t.Fatal(err)
		}
		wasmBuilds.dir, wasmBuilds.paths = dir, map[string]string{}
	}
	out, ok := wasmBuilds.paths[pkg]
	if !ok {
		out = filepath.Join(wasmBuilds.dir, strings.ReplaceAll(pkg, "/", "_")+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+pkg)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, msg)
		}
		wasmBuilds.paths[pkg] = out
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedCacheDir is one compilation cache for the whole test run, so each
// module compiles once (compiling is slow under the race detector).
func sharedCacheDir(t testing.TB) string {
	t.Helper()
	buildWasm(t, "server/plugin/testdata/badabi") // makes wasmBuilds.dir
	return filepath.Join(wasmBuilds.dir, "compiled")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if wasmBuilds.dir != "" {
		os.RemoveAll(wasmBuilds.dir)
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testRuntime is a runtime with its logs and metrics captured.
type testRuntime struct {
	*Runtime
	logs   *syncBuffer
	reader *sdkmetric.ManualReader
}

func newTestRuntime(t testing.TB, cfg Config) *testRuntime {
	t.Helper()
	logs := &syncBuffer{}
	reader := sdkmetric.NewManualReader()
	if cfg.CacheDir == "" {
		cfg.CacheDir = sharedCacheDir(t)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rt, err := NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return &testRuntime{Runtime: rt, logs: logs, reader: reader}
}

// counter returns the sum of an int64 counter's points whose attributes
// include every key=value in want.
func (r *testRuntime) counter(t testing.TB, name string, want map[string]string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
		points:
			for _, dp := range sum.DataPoints {
				for k, v := range want {
					if got, ok := dp.Attributes.Value(attributeKey(k)); !ok || got.AsString() != v {
						continue points
					}
				}
				total += dp.Value
			}
		}
	}
	return total
}
