package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "modernc.org/sqlite"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/config"
	"google.golang.org/protobuf/types/known/durationpb"
	"time"
)

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteThroughToSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "d.db")
	cfg := writeFile(t, dir, "groups.yaml", `
groups:
  - name: wt
    capacity: 1MiB
    write_through: true
    loader: {kind: sqlite}
  - name: plain
    capacity: 1MiB
    loader: {kind: sqlite}
`)
	n := startNode(t, Config{DBPath: db, ConfigPath: cfg})
	c := n.clients(protocols()[3])
	ctx := context.Background()
	setKey := func(group, key, value string) {
		t.Helper()
		if _, err := c.cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: group, Key: key, Value: []byte(value)})); err != nil {
			t.Fatal(err)
		}
	}
	setKey("wt", "wt-key", "stored")
	setKey("plain", "plain-key", "cached only")
	sqldb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	row := func(key string) (string, bool) {
		var v string
		err := sqldb.QueryRow("SELECT v FROM kv WHERE k = ?", key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return v, true
	}
	if v, ok := row("wt-key"); !ok || v != "stored" {
		t.Fatalf("write-through row = %q, %v; want stored", v, ok)
	}
	if _, ok := row("plain-key"); ok {
		t.Fatal("a group without write_through wrote to the table")
	}
	// The write-through row is what a fresh load of the plain group sees.
	res, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "plain", Key: "wt-key"}))
	if err != nil || string(res.Msg.Value) != "stored" || res.Msg.Source != distcachev1.Source_SOURCE_LOADER {
		t.Fatalf("plain Get of written row = %v, %v", res, err)
	}
	if _, err := c.cache.Delete(ctx, connect.NewRequest(&distcachev1.DeleteRequest{Group: "wt", Key: "wt-key"})); err != nil {
		t.Fatal(err)
	}
	if _, ok := row("wt-key"); ok {
		t.Fatal("write-through Delete left the row")
	}
}

func TestBadConfigStopsNode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml, field, problem string
	}{
		{"unknown field", "groups:\n  - name: a\n    capacity: 1MiB\n    colour: red\n", "groups[0]", "colour"},
		{"bad capacity", "groups:\n  - name: a\n    capacity: lots\n", "groups[0].capacity", "not a size"},
		{"missing table", "groups:\n  - name: a\n    capacity: 1MiB\n    loader: {kind: sqlite, table: nope}\n", "groups[0].loader", "nope"},
		{"not yaml", "groups: [\n", "", "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.yaml)
			_, err := New(context.Background(), Config{DBPath: filepath.Join(dir, "d.db"), ConfigPath: path})
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			msg := err.Error()
			for _, want := range []string{path, tc.field, tc.problem} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
		})
	}
	var ce *config.Error
	_, err := New(context.Background(), Config{DBPath: filepath.Join(dir, "d.db"), ConfigPath: filepath.Join(dir, "missing.yaml")})
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing config file: %v", err)
	}
}

// countingReader yields n bytes of a valid-looking protobuf body and counts
// how many the server pulled.
type countingReader struct {
	n, read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.n.Load() - r.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), left)
	clear(p[:k])
	r.read.Add(k)
	return int(k), nil
}

func TestOversizedBodyIsRefusedUnread(t *testing.T) {
	n := startNode(t, Config{MaxValueBytes: 1 << 10})
	const size = 256 << 20
	for _, tc := range []struct {
		name, contentType string
		client            *http.Client
	}{
		{"connect http1", "application/proto", http.DefaultClient},
		{"grpc h2c", "application/grpc", h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{}
			body.n.Store(size)
			req, _ := http.NewRequest(http.MethodPost, n.url+"/distcache.v1.CacheService/Set", body)
			req.Header.Set("Content-Type", tc.contentType)
			if tc.contentType == "application/grpc" {
				// One envelope announcing the whole body as one message.
				hdr := binary.BigEndian.AppendUint32([]byte{0}, uint32(size))
				req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(hdr), body))
			}
			res, err := tc.client.Do(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK && res.Header.Get("Grpc-Status") == "" && res.Trailer.Get("Grpc-Status") == "" {
					t.Fatalf("oversized body accepted: %s", res.Status)
				}
				if code := res.Trailer.Get("Grpc-Status") + res.Header.Get("Grpc-Status"); tc.contentType == "application/grpc" && code != "8" {
					t.Fatalf("grpc-status = %q, want 8 (resource_exhausted)", code)
				}
			}
			if got := body.read.Load(); got > 32<<20 {
				t.Fatalf("server read %d of %d bytes; it should stop near the limit", got, size)
			}
		})
	}
	if items := n.All()[0].Stats().Items; items != 0 {
		t.Fatalf("oversized request changed the cache: %d items", items)
	}
}

func TestCORS(t *testing.T) {
	n := startNode(t, Config{CORSOrigins: []string{"https://app.example"}})
	for _, tc := range []struct {
		origin string
		allow  bool
	}{{"https://app.example", true}, {"https://evil.example", false}, {"http://localhost:3000", false}} {
		t.Run(tc.origin, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, n.url+"/distcache.v1.CacheService/Get", nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "connect-protocol-version,content-type,x-grpc-web") // sorted, as browsers send it
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := res.Header.Get("Access-Control-Allow-Origin")
			if tc.allow != (got == tc.origin) {
				t.Fatalf("Access-Control-Allow-Origin = %q for %s, want allowed=%v", got, tc.origin, tc.allow)
			}
		})
	}
}

func TestDefaultCORSAllowsLocalDevelopment(t *testing.T) {
	n := startNode(t, Config{})
	req, _ := http.NewRequest(http.MethodOptions, n.url+"/distcache.v1.CacheService/Get", nil)
	req.Header.Set("Origin", "http://localhost:5173")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
		t.Fatalf("default CORS refused a localhost origin: %q", got)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	n := startNode(t, Config{})
	c := n.clients(protocols()[2])
	for range 3 {
		if _, err := c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`distcache_hits_total{group="default"`, `distcache_misses_total{group="default"`,
		`distcache_loads_total{group="default"`, `distcache_load_duration_seconds_bucket{group="default"`,
		`distcache_evictions_total{group="default"`, `distcache_bytes{group="default"`,
		`rpc_server_`, // otelconnect's RPC metrics
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !bytes.Contains(body, []byte(`distcache_hits_total{group="default",otel_scope_name="github.com/distcache/distcache/server/cache",otel_scope_schema_url="",otel_scope_version=""} 2`)) {
		t.Errorf("/metrics does not count 2 hits:\n%s", grepLines(body, "distcache_hits"))
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestTraceFollowsGetIntoLoad(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	n := startNode(t, Config{TracerProvider: tp})
	c := n.clients(protocols()[0])
	if _, err := c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err != nil {
		t.Fatal(err)
	}
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	rpc, get, load := byName["distcache.v1.CacheService/Get"], byName["cache.Get"], byName["cache.Load"]
	if rpc == nil || get == nil || load == nil {
		t.Fatalf("spans = %v, want the RPC, cache.Get and cache.Load", keys(byName))
	}
	if get.Parent().SpanID() != rpc.SpanContext().SpanID() || load.Parent().SpanID() != get.SpanContext().SpanID() {
		t.Fatal("spans do not chain RPC -> cache.Get -> cache.Load")
	}
	if load.SpanContext().TraceID() != rpc.SpanContext().TraceID() {
		t.Fatal("cache.Load is in another trace")
	}
}

func keys(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWriteThroughKeepsTTL: a Set with a TTL in a write-through group is
// gone once the TTL passes, on this node and on a node started afresh on
// the same database: the table does not bring it back as a value that
// never expires (issue 11, point 8).
func TestWriteThroughKeepsTTL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "d.db")
	cfg := writeFile(t, dir, "groups.yaml", `
groups:
  - name: wt
    capacity: 1MiB
    write_through: true
    loader: {kind: sqlite}
`)
	n := startNode(t, Config{DBPath: db, ConfigPath: cfg})
	c := n.clients(protocols()[3])
	ctx := context.Background()
	_, err := c.cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{
		Group: "wt", Key: "brief", Value: []byte("v"), Ttl: durationpb.New(time.Second)}))
	if err != nil {
		t.Fatal(err)
	}
	get := func(c clients) error {
		_, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "wt", Key: "brief"}))
		return err
	}
	if err := get(c); err != nil {
		t.Fatalf("Get within the TTL: %v", err)
	}
	waitUntil(t, "the entry to expire", func() bool { return connect.CodeOf(get(c)) == connect.CodeNotFound })
	// Not reloaded from the table, here or on a fresh node.
	if err := get(c); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Get after the TTL, again: %v, want not_found", err)
	}
	n.Stop()
	fresh := startNode(t, Config{DBPath: db, ConfigPath: cfg})
	if err := get(fresh.clients(protocols()[3])); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Get after the TTL on a fresh node: %v, want not_found", err)
	}
}
