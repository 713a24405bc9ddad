package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/server/node"
)

// startTestNode serves a node in this process with one group "bench"
// without a loader, and returns its base URL; it stops when the test ends.
func startTestNode(t *testing.T) string {
	url, _ := startTestNodeRESP(t)
	return url
}

// startTestNodeRESP is startTestNode that also serves the Redis protocol,
// with "bench" its default group, and returns that listener's address.
func startTestNodeRESP(t *testing.T) (url, respAddr string) {
	t.Helper()
	dir := t.TempDir()
	groups := filepath.Join(dir, "groups.yaml")
	if err := os.WriteFile(groups, []byte("groups:\n  - name: bench\n    capacity: 16MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(context.Background(), node.Config{
		DBPath: filepath.Join(dir, "x.db"), ConfigPath: groups, PluginsDir: dir, NoBuiltinPlugins: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := n.RESPServer("bench")
	if err != nil {
		t.Fatal(err)
	}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- n.Serve(ctx, ln) }()
	go func() { done <- rs.Serve(ctx, rln) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), rln.Addr().String()
}

// runJSON runs loadgen with args and -json and decodes its report.
func runJSON(t *testing.T, args ...string) *report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, stdout.String())
	}
	return &rep
}

// checkSane checks a cell ran, without errors, with ordered latencies.
func checkSane(t *testing.T, r result, target, op string, callers int) {
	t.Helper()
	switch {
	case r.Target != target || r.Op != op || r.Callers != callers:
		t.Errorf("cell is %s %s c=%d, want %s %s c=%d", r.Target, r.Op, r.Callers, target, op, callers)
	case r.Ops <= 0 || r.OpsPerSec <= 0:
		t.Errorf("%s %s %s: %d ops, %.0f ops/s, want some", target, r.Protocol, op, r.Ops, r.OpsPerSec)
	case r.Errors != 0:
		t.Errorf("%s %s %s: %d errors, first %s", target, r.Protocol, op, r.Errors, r.FirstErr)
	case r.P50us < 1 || r.P50us > r.P99us || r.P99us > r.P999us || r.P999us > r.MaxUs:
		t.Errorf("%s %s %s: latencies p50 %d p99 %d p99.9 %d max %d µs are not ordered",
			target, r.Protocol, op, r.P50us, r.P99us, r.P999us, r.MaxUs)
	}
}

// TestLoadAgainstNode runs every protocol and op briefly against an
// in-process node and checks the report.
func TestLoadAgainstNode(t *testing.T) {
	url, respAddr := startTestNodeRESP(t)
	rep := runJSON(t, "-addr", url, "-resp-addr", respAddr, "-redis", "off", "-d", "300ms", "-warmup", "50ms", "-c", "2,4",
		"-keys", "100", "-protocols", strings.Join(knownProtocols, ","))
	if want := 2 * 2 * len(knownProtocols); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	i := 0
	for _, op := range defaultOps {
		for _, c := range []int{2, 4} {
			for _, p := range knownProtocols {
				row := rep.Rows[i]
				i++
				if row.Distcache.Protocol != p {
					t.Errorf("row %d protocol %q, want %q", i, row.Distcache.Protocol, p)
				}
				checkSane(t, row.Distcache, "distcache", op, c)
				if row.Redis != nil || row.Ratio != 0 {
					t.Errorf("row %d has Redis figures with -redis off", i)
				}
			}
		}
	}
	if rep.Redis != "off" || rep.Keys != 100 || rep.Value != 100 || rep.Pinning.ServerCPU != -1 {
		t.Errorf("report header %+v", rep)
	}
}

// TestLoadBesideRedis runs one protocol beside a redis-server it starts,
// and checks the ratio. It skips without redis-server (fails where
// DISTCACHE_REQUIRE_TOOLS=1, as .ci/run sets).
func TestLoadBesideRedis(t *testing.T) {
	testtool.Path(t, "redis-server", "apt-get install -y redis-server")
	url := startTestNode(t)
	rep := runJSON(t, "-addr", url, "-redis", "auto", "-d", "300ms", "-warmup", "50ms", "-c", "4",
		"-keys", "100", "-protocols", "grpc")
	if len(rep.Rows) != 2 || rep.Redis != "started" {
		t.Fatalf("%d rows, redis %q; want 2 rows, redis started", len(rep.Rows), rep.Redis)
	}
	for i, op := range defaultOps {
		row := rep.Rows[i]
		checkSane(t, row.Distcache, "distcache", op, 4)
		if row.Redis == nil {
			t.Fatalf("row %d has no Redis cell", i)
		}
		checkSane(t, *row.Redis, "redis", op, 4)
		if want := row.Distcache.OpsPerSec / row.Redis.OpsPerSec; row.Ratio != want {
			t.Errorf("row %d ratio %v, want %v", i, row.Ratio, want)
		}
	}
}

// TestTable checks the table has a header, one line per row and the
// Redis note when Redis is missing.
func TestTable(t *testing.T) {
	r := result{Target: "distcache", Protocol: "grpc", Op: "get", Callers: 16, OpsPerSec: 1234, P50us: 800, P99us: 1500, P999us: 2500}
	redis := r
	redis.OpsPerSec = 2468
	rep := &report{Keys: 10, Value: 100, Seconds: 5, CPUs: 2, Pinning: pinning{ServerCPU: 0, LoadCPU: 1},
		Rows: []row{{Distcache: r, Redis: &redis, Ratio: 0.5}, {Distcache: r}}, Note: errNoRedis.Error()}
	var out bytes.Buffer
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out.String())
	}
	for _, want := range []string{"servers on CPU 0, load generator on CPU 1", "apt-get install -y redis-server",
		"distcache ops/s", "0.50x", "800µs", "1.50ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBadFlags checks that bad flags are refused with the flag's name.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-protocols", "grpc,http3"}, "-protocols"},
		{[]string{"-ops", "delete"}, "-ops"},
		{[]string{"-batch", "0"}, "-batch"},
		{[]string{"-batch", "1001"}, "-batch"},
		{[]string{"-c", "0"}, "-c"},
		{[]string{"-c", "16,lots"}, "-c"},
		{[]string{"-d", "0s"}, "-d"},
		{[]string{"-d", "1h"}, "-d"},
		{[]string{"-keys", "0"}, "-keys"},
		{[]string{"-value", "0"}, "-value"},
		{[]string{"-redis", ""}, "-redis"},
		{[]string{"-protocols", "grpc,resp"}, "-resp-addr"},
		{[]string{"extra"}, `"extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error naming %s", tt.args, err, tt.want)
			}
		})
	}
}

// TestBatchedOps runs the batched ops briefly against an in-process node
// and beside Redis when it is installed: each cell counts keys.
func TestBatchedOps(t *testing.T) {
	url := startTestNode(t)
	redis := "off"
	if _, err := exec.LookPath("redis-server"); err == nil {
		redis = "auto"
	}
	rep := runJSON(t, "-addr", url, "-redis", redis, "-d", "300ms", "-warmup", "50ms", "-c", "2",
		"-keys", "100", "-protocols", "grpc,connect", "-ops", "getmany,setmany,pipeline", "-batch", "8")
	if len(rep.Rows) != 6 {
		t.Fatalf("%d rows, want 6", len(rep.Rows))
	}
	for _, row := range rep.Rows {
		checkSane(t, row.Distcache, "distcache", row.Distcache.Op, 2)
		if row.Distcache.Batch != 8 || row.Distcache.Ops%8 != 0 {
			t.Errorf("%s %s: batch %d, %d keys; want batches of 8", row.Distcache.Op, row.Distcache.Protocol, row.Distcache.Batch, row.Distcache.Ops)
		}
		if redis == "auto" {
			if row.Redis == nil {
				t.Fatalf("%s: no Redis cell", row.Distcache.Op)
			}
			checkSane(t, *row.Redis, "redis", row.Distcache.Op, 2)
		}
	}
}
