package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/sqltest"
	"github.com/distcache/distcache/internal/wasmbuild"
)

// wasm builds the test modules once per test run.
var wasm wasmbuild.Builder

func buildWasm(t testing.TB, pkg string) []byte { return wasm.Bytes(t, pkg) }

// sharedCacheDir is one compilation cache for the whole test run, so each
// module compiles once (compiling is slow under the race detector).
func sharedCacheDir(t testing.TB) string { return filepath.Join(wasm.Dir(t), "compiled") }

func TestMain(m *testing.M) {
	code := sqltest.Run(m) // and stops the database servers it started
	wasm.Cleanup()
	if code == 0 {
		// Every runtime, manager and watcher a test made was closed: none
		// of their goroutines may outlive it.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = childproc.Buffer

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
