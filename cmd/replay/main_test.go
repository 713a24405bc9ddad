package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/server/cache"
)

// moduleRoot is the repository root, relative to this package.
const moduleRoot = "../.."

func TestRunWASMLRUMatchesExactLRU(t *testing.T) {
	wasm := filepath.Join(t.TempDir(), "lru.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", wasm, "./policy/lru")
	build.Dir = moduleRoot
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building policy/lru: %v\n%s", err, out)
	}
	out := runOK(t, "-zipf", "20000", "-keys", "3000", "-s", "0.9", "-capacity", "50,500", wasm)
	for _, c := range []int{50, 500} {
		got := hitsOf(t, out, c, "lru.wasm")
		want := hitsOf(t, out, c, "lru (native, exact)")
		if got != want {
			t.Errorf("capacity %d: lru.wasm %s, exact LRU %s\n%s", c, got, want, out)
		}
	}
}

func TestRunFIFOInC(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		missingTool(t, "no clang to build policy/fifo-c")
	}
	wasm := filepath.Join(t.TempDir(), "fifo-c.wasm")
	build := exec.Command("clang", "--target=wasm32", "-mcpu=mvp", "-O2", "-nostdlib", "-fno-builtin",
		"-Wl,--no-entry", "-Wl,--stack-first", "-o", wasm, "policy/fifo-c/fifo.c")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		missingTool(t, fmt.Sprintf("clang cannot build for wasm32 here (is lld installed?): %v\n%s", err, out))
	}
	args := []string{"-zipf", "20000", "-keys", "3000", "-seed", "2"}
	out := runOK(t, append(args, "-capacity", "50,500", wasm)...)
	for _, c := range []int{50, 500} {
		hits, _, err := trace.Replay(newFIFO(), trace.Zipf(20000, 3000, 0.99, 2), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := hitsOf(t, out, c, "fifo-c.wasm"); got != fmt.Sprint(hits) {
			t.Errorf("capacity %d: fifo-c.wasm hit %s times, a FIFO %d\n%s", c, got, hits, out)
		}
	}
}

func TestRunReferences(t *testing.T) {
	out := runOK(t, "-loop", "1000,50", "-capacity", "100,10")
	tests := []struct {
		capacity int
		policy   string
		ratio    string
	}{
		{100, "lru (native, exact)", "95.00%"},
		{100, "arc (hashicorp)", "95.00%"},
		{100, "otter", "95.00%"},
		{10, "lru (native, exact)", "0.00%"},
		{100, "opt (belady)", "95.00%"},
		{10, "opt (belady)", "19.00%"}, // 10 of each cycle of 50 after the first
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.policy, "/", tt.capacity), func(t *testing.T) {
			line := lineOf(t, out, tt.capacity, tt.policy)
			if !strings.Contains(line, " "+tt.ratio+" ") {
				t.Errorf("row %q, want hit ratio %s", line, tt.ratio)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "notwasm.wasm")
	if err := os.WriteFile(notWasm, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	badTrace := filepath.Join(dir, "bad.trace")
	if err := os.WriteFile(badTrace, []byte("1\n2\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no trace", []string{"-capacity", "10"}, 2, "give a trace"},
		{"zero zipf", []string{"-zipf", "0"}, 2, "-zipf"},
		{"bad capacity", []string{"-zipf", "10", "-capacity", "10,x"}, 2, "-capacity"},
		{"zero capacity", []string{"-zipf", "10", "-capacity", "0"}, 2, "-capacity"},
		{"bad loop", []string{"-loop", "10"}, 2, "-loop"},
		{"unknown flag", []string{"-nope"}, 2, "-nope"},
		{"bad zipf keys", []string{"-zipf", "10", "-keys", "0"}, 1, "keys"},
		{"missing trace", []string{"-trace", filepath.Join(dir, "none")}, 1, "none"},
		{"malformed trace", []string{"-trace", badTrace}, 1, badTrace + ":3:"},
		{"not wasm", []string{"-zipf", "10", notWasm}, 1, notWasm},
		{"missing wasm", []string{"-zipf", "10", filepath.Join(dir, "gone.wasm")}, 1, "gone.wasm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}

// runOK runs the command and returns its output, failing the test unless
// it exits 0.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v: exit %d\n%s", args, code, stderr.String())
	}
	return stdout.String()
}

var rowHits = regexp.MustCompile(`\s\d+\.\d\d%\s+(\d+)\s`)

// hitsOf returns the hits column of a row.
func hitsOf(t *testing.T, out string, capacity int, policy string) string {
	t.Helper()
	line := lineOf(t, out, capacity, policy)
	m := rowHits.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no hits in row %q", line)
	}
	return m[1]
}

// lineOf returns the table row of policy at capacity.
func lineOf(t *testing.T, out string, capacity int, policy string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, fmt.Sprint(capacity, " ")) && strings.Contains(line, " "+policy+" ") {
			return line
		}
	}
	t.Fatalf("no row for %s at capacity %d in\n%s", policy, capacity, out)
	return ""
}

// fifo is a native first-in, first-out policy, to check policy/fifo-c.
type fifo struct {
	order   []fifoEntry
	entries map[uint64]fifoEntry // the live entry of each hash
	seq     int
}

type fifoEntry struct {
	hash uint64
	cost int64
	seq  int // tells a live place in order from one left by a remove
}

func newFIFO() *fifo { return &fifo{entries: make(map[uint64]fifoEntry)} }

func (f *fifo) Apply(events []cache.Event) {
	for _, ev := range events {
		e, ok := f.entries[ev.Hash]
		switch {
		case ev.Op != cache.OpInsert && ev.Op != cache.OpUpdate:
			if ev.Op == cache.OpRemove {
				delete(f.entries, ev.Hash)
			}
		case ok:
			e.cost = ev.Cost
			f.entries[ev.Hash] = e
		default:
			f.seq++
			e = fifoEntry{hash: ev.Hash, cost: ev.Cost, seq: f.seq}
			f.entries[ev.Hash] = e
			f.order = append(f.order, e)
		}
	}
}

func (f *fifo) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && len(f.order) > 0 {
		e := f.order[0]
		f.order = f.order[1:]
		if live, ok := f.entries[e.hash]; ok && live.seq == e.seq {
			delete(f.entries, e.hash)
			dst = append(dst, e.hash)
			need -= live.cost
		}
	}
	return dst
}

// missingTool skips a test that needs a tool this machine lacks, or fails
// it where DISTCACHE_REQUIRE_TOOLS=1 (as .ci/run sets): CI must run it.
func missingTool(t *testing.T, why string) {
	t.Helper()
	testtool.Missing(t, why, "apt-get install -y clang lld")
}

// buildGo builds the Go plugin package pkg (relative to the module root)
// into dir as name.wasm and returns its path.
func buildGo(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	wasm := filepath.Join(dir, name+".wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", wasm, "./"+pkg)
	build.Dir = moduleRoot
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return wasm
}

// TestRunSkipsLoaderModules: a loader module among the arguments, as in
// the README's plugins/*.wasm, is skipped with a note, not a failure.
func TestRunSkipsLoaderModules(t *testing.T) {
	loader := buildGo(t, t.TempDir(), "sqlkv", "loader/sqlkv")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-loop", "100,5", "-capacity", "10", loader}, &stdout, &stderr)
	want := "skipping " + loader + ": a loader, not a policy\n"
	if code != 0 || stderr.String() != want {
		t.Fatalf("exit %d, stderr %q; want 0 and %q", code, stderr.String(), want)
	}
	if strings.Contains(stdout.String(), "sqlkv") {
		t.Fatalf("the loader has a row:\n%s", stdout.String())
	}
	lineOf(t, stdout.String(), 10, "otter")
}

// TestRunTablesInFlagOrder: the cells run in parallel, but the tables and
// their rows come out in the order of the flags, as they did in series.
func TestRunTablesInFlagOrder(t *testing.T) {
	out := runOK(t, "-loop", "5000,300", "-capacity", "500,10,100,1")
	var caps, names []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 1 && rowHits.MatchString(line) {
			caps = append(caps, f[0])
			names = append(names, strings.Join(f[1:len(f)-4], " "))
		}
	}
	wantNames := "[lru (native, exact) arc (hashicorp) otter opt (belady)]"
	if fmt.Sprint(caps) != "[500 500 500 500 10 10 10 10 100 100 100 100 1 1 1 1]" {
		t.Fatalf("capacities of the rows = %v\n%s", caps, out)
	}
	for i := 0; i < len(names); i += 4 {
		if got := fmt.Sprint(names[i : i+4]); got != wantNames {
			t.Fatalf("rows %d-%d = %s, want %s", i, i+3, got, wantNames)
		}
	}
}

func TestProgress(t *testing.T) {
	keys := make([]uint64, 3*progressChunk+5)
	p := newProgress(2, 2*int64(len(keys)))
	r := p.reader(context.Background(), keys)
	for _, ok := r.Next(); ok; _, ok = r.Next() {
	}
	p.cellDone()
	if got := p.line(); !strings.HasPrefix(got, fmt.Sprintf("replay: 1/2 cells, 50%% of %s requests, ", commas(2*int64(len(keys))))) {
		t.Errorf("line = %q", got)
	}
	var buf bytes.Buffer
	if d := progressInterval(&buf, false, 0); d != 0 {
		t.Errorf("progress to a buffer every %v, want never", d)
	}
	if d := progressInterval(&buf, false, time.Second); d != time.Second {
		t.Errorf("progress to a buffer with -progress=1s every %v, want 1s", d)
	}
	if d := progressInterval(os.Stderr, true, time.Second); d != 0 {
		t.Errorf("progress with -quiet every %v, want never", d)
	}
}

// TestReaderStopsWithContext: once a replay fails, the other cells' readers
// end at their next chunk with the context's error.
func TestReaderStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := newProgress(1, 0).reader(ctx, make([]uint64, 10*progressChunk))
	n := 0
	for _, ok := r.Next(); ok; _, ok = r.Next() {
		n++
	}
	if n >= progressChunk || r.Err() != context.Canceled {
		t.Fatalf("read %d keys after cancel, err %v; want fewer than %d and context.Canceled", n, r.Err(), progressChunk)
	}
}
