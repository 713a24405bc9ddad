package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// loopKeys is a loop over 50 keys, 20 times: an exact LRU of 50 entries
// hits 950 of the 1000 requests, one of 10 none.
func loopKeys() []uint64 {
	keys := make([]uint64, 1000)
	for i := range keys {
		keys[i] = uint64(i%50) * 7
	}
	return keys
}

// encode writes keys in a trace format; sized formats give key k the size
// k+1.
func encode(format string, keys []uint64) []byte {
	var b bytes.Buffer
	for i, k := range keys {
		switch format {
		case "arc":
			fmt.Fprintf(&b, "%d 1 0 0\n", k)
		case "lirs":
			fmt.Fprintf(&b, "%d\n", k)
		case "binary":
			b.Write(binary.BigEndian.AppendUint64(nil, k))
		case "oracle":
			r := binary.LittleEndian.AppendUint32(nil, uint32(i))
			r = binary.LittleEndian.AppendUint64(r, k)
			r = binary.LittleEndian.AppendUint32(r, uint32(k+1))
			b.Write(binary.LittleEndian.AppendUint64(r, ^uint64(0)))
		case "csv":
			if i == 0 {
				b.WriteString("obj_id,obj_size\n")
			}
			fmt.Fprintf(&b, "%d,%d\n", k, k+1)
		case "csv-strings":
			fmt.Fprintf(&b, "\"key %d\"\n", k)
		}
	}
	return b.Bytes()
}

func compressed(t *testing.T, data []byte, codec string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch codec {
	case "":
		return data
	case "gz":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zst":
		w, err = zstd.NewWriter(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTrace(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runJSON runs the command with -o json and decodes its records.
func runJSON(t *testing.T, args ...string) []record {
	t.Helper()
	out := runOK(t, append([]string{"-o", "json"}, args...)...)
	var recs []record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	return recs
}

// find returns the record of policy at capacity.
func find(t *testing.T, recs []record, capacity int64, policy string) record {
	t.Helper()
	for _, r := range recs {
		if r.Capacity == capacity && r.Policy == policy {
			return r
		}
	}
	t.Fatalf("no record of %s at %d in %+v", policy, capacity, recs)
	return record{}
}

// TestRunFormats: every format, plain and compressed with each codec,
// detected or given, replays the same loop.
func TestRunFormats(t *testing.T) {
	keys := loopKeys()
	tests := []struct {
		format string
		name   string   // file name before the codec suffix
		flags  []string // -format and -sizes
	}{
		{"arc", "t", nil},
		{"lirs", "t", nil},
		{"binary", "t.bin", nil},
		{"binary", "corda", []string{"-format", "corda"}},
		{"oracle", "t", []string{"-sizes=false"}},
		{"csv", "t", []string{"-sizes=false"}},
		{"csv-strings", "t", []string{"-format", "csv"}},
	}
	for _, tt := range tests {
		for _, codec := range []string{"", "gz", "xz", "zst"} {
			t.Run(tt.format+"/"+tt.name+"/"+codec, func(t *testing.T) {
				name := tt.name
				if codec != "" {
					name += "." + codec
				}
				path := writeTrace(t, name, compressed(t, encode(tt.format, keys), codec))
				recs := runJSON(t, append(tt.flags, "-trace", path, "-capacity", "10,100%")...)
				r := find(t, recs, 50, "lru (native, exact)")
				if r.Hits != 950 || r.Requests != 1000 || r.DistinctKeys != 50 || r.Unit != "entries" || r.Share != 100 {
					t.Errorf("%+v; want 950 hits of 1000 requests, 50 distinct keys, in entries, 100%%", r)
				}
				if opt := find(t, recs, 10, "opt (belady)"); opt.Hits != 190 {
					t.Errorf("OPT at 10: %d hits, want 190", opt.Hits)
				}
			})
		}
	}
}

// TestRunSized: a trace with sizes is replayed by size, capacities in
// bytes: no ARC (it counts entries), the OPT row says it is a heuristic,
// and a WASM LRU matches the exact LRU.
func TestRunSized(t *testing.T) {
	wasm := buildGo(t, t.TempDir(), "lru", "policy/lru")
	keys := loopKeys()
	distinctBytes := int64(0)
	for k := range int64(50) {
		distinctBytes += 7*k + 1
	}
	// One run of both traces, so that the plugin compiles once.
	csvPath := writeTrace(t, "t.csv", encode("csv", keys))
	oraclePath := writeTrace(t, "o.oracleGeneral", encode("oracle", keys))
	recs := runJSON(t, "-trace", csvPath, "-trace", oraclePath, "-capacity", "1KiB,5000,100%", wasm)
	for _, name := range []string{"t", "o"} {
		t.Run(name, func(t *testing.T) {
			var mine []record
			for _, r := range recs {
				if r.Trace == name {
					mine = append(mine, r)
				}
			}
			for _, r := range mine {
				if r.Unit != "bytes" || r.DistinctBytes != distinctBytes || r.Policy == "arc (hashicorp)" || r.Policy == "opt (belady)" {
					t.Fatalf("%+v: want bytes, %d distinct bytes, no ARC, no exact OPT", r, distinctBytes)
				}
			}
			for _, c := range []int64{1024, 5000, distinctBytes} {
				wasmHits, lru := find(t, mine, c, "lru.wasm").Hits, find(t, mine, c, "lru (native, exact)").Hits
				if wasmHits != lru {
					t.Errorf("capacity %d: lru.wasm %d hits, exact LRU %d", c, wasmHits, lru)
				}
				find(t, mine, c, "otter")
				find(t, mine, c, "belady-size (heuristic)")
			}
			if r := find(t, mine, distinctBytes, "lru (native, exact)"); r.Hits != 950 {
				t.Errorf("everything fits: %d hits, want 950", r.Hits)
			}
		})
	}
	unsized := runJSON(t, "-sizes=false", "-trace", csvPath, "-capacity", "50")
	if r := find(t, unsized, 50, "arc (hashicorp)"); r.Unit != "entries" || r.Hits != 950 {
		t.Errorf("-sizes=false: %+v", r)
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad format", []string{"-zipf", "10", "-format", "parquet"},
			`-format: unsupported format "parquet"; want one of auto, arc, lirs, binary, binary-le, oracle, csv`},
		{"bad output", []string{"-zipf", "10", "-o", "xml"}, `-o: unsupported output "xml"; want one of table, csv, json, markdown`},
		{"bad plot", []string{"-zipf", "10", "-plot", "a.gif"}, "unsupported plot format"},
		{"zero share", []string{"-zipf", "10", "-capacity", "0%"}, "more than 0%"},
		{"big share", []string{"-zipf", "10", "-capacity", "150%"}, "at most 100%"},
		{"bad unit", []string{"-zipf", "10", "-capacity", "10XB"}, `"10XB"`},
		{"bad sizes", []string{"-zipf", "10", "-sizes=maybe"}, "-sizes"},
		{"bad progress", []string{"-zipf", "10", "-progress=often"}, "-progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.stderr)
			}
		})
	}
}

func TestRunTraceErrors(t *testing.T) {
	random := make([]byte, 800)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	undetectable := writeTrace(t, "scarab.recs", random)
	lirs := writeTrace(t, "t.lirs", []byte("1\n2\n"))
	empty := writeTrace(t, "empty", nil)
	bz := writeTrace(t, "t.bz2", []byte("BZh91AY&SY\x00\x00"))
	cut := writeTrace(t, "t.bin", append(encode("binary", loopKeys()), 1, 2))
	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"undetectable", []string{"-trace", undetectable}, []string{undetectable, "cannot tell the format", "-format binary"}},
		{"no sizes", []string{"-trace", lirs, "-sizes"}, []string{lirs, "carries no sizes"}},
		{"bytes without sizes", []string{"-trace", lirs, "-capacity", "64MiB"}, []string{"-capacity 64MiB is in bytes"}},
		{"sizes of zipf", []string{"-zipf", "100", "-sizes=true"}, []string{"zipf", "carries no sizes"}},
		{"empty", []string{"-trace", empty}, []string{empty, "no requests"}},
		{"bzip2", []string{"-trace", bz}, []string{bz, "bzip2"}},
		{"cut record", []string{"-trace", cut}, []string{cut, "record 1000 at byte offset 8000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			for _, want := range tt.stderr {
				if code != 1 || !strings.Contains(stderr.String(), want) {
					t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
				}
			}
		})
	}
}

// TestRunOutputs: csv parses, json decodes, markdown has a row per trace
// and capacity and the gap column with policies, none without.
func TestRunOutputs(t *testing.T) {
	wasm := buildGo(t, t.TempDir(), "lru", "policy/lru")
	args := []string{"-loop", "1000,50", "-zipf", "5000", "-keys", "500", "-capacity", "10,20%", wasm}
	const rows = 2 * 2 * 5 // traces, capacities, policies and references

	// Without the plugin, which takes long to compile with -race.
	cr := csv.NewReader(strings.NewReader(runOK(t, append([]string{"-o", "csv"}, args[:len(args)-1]...)...)))
	all, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all[0], csvHeader) || len(all) != rows-4+1 {
		t.Fatalf("csv: header %v, %d records; want %v and %d", all[0], len(all)-1, csvHeader, rows-4)
	}
	if got := all[1]; got[0] != "loop-50" || got[1] != "10" || got[4] != "lru (native, exact)" || got[5] != "reference" {
		t.Errorf("first record %v", got)
	}

	recs := runJSON(t, args...)
	if len(recs) != rows {
		t.Fatalf("json: %d records, want %d", len(recs), rows)
	}
	// 20% of the 471 distinct keys of the Zipf trace, rounded up.
	if r := find(t, recs, 95, "lru.wasm"); r.Trace != "zipf-0.99" || r.Share != 20 || r.Kind != "policy" || r.DistinctKeys != 471 {
		t.Errorf("zipf at 20%%: %+v", r)
	}

	md := runOK(t, append([]string{"-o", "markdown"}, args...)...)
	lines := strings.Split(md, "\n")
	wantHead := "| trace | capacity | lru.wasm | lru (native, exact) | arc (hashicorp) | otter | opt (belady) | " + gapColumn + " |"
	if lines[0] != wantHead {
		t.Fatalf("markdown header\n%s\nwant\n%s", lines[0], wantHead)
	}
	for i, want := range []string{"| loop-50 | 10 | 0.00 |", "| loop-50 | 10 (20%) |", "| zipf-0.99 | 10 |", "| zipf-0.99 | 95 (20%) |"} {
		if !strings.HasPrefix(lines[2+i], want) {
			t.Errorf("row %d = %q, want it to start %q", i, lines[2+i], want)
		}
	}
	for _, line := range lines[2:6] {
		// | trace | capacity | lru.wasm | lru | arc | otter | opt | gap |
		var f []float64
		for _, c := range strings.Split(strings.Trim(line, "| "), " | ")[2:] {
			v, err := strconv.ParseFloat(c, 64)
			if err != nil {
				t.Fatalf("row %q: %v", line, err)
			}
			f = append(f, v)
		}
		if want := f[0] - max(f[2], f[3]); math.Abs(f[5]-want) > 0.011 {
			t.Errorf("row %q: gap %.2f, want %.2f", line, f[5], want)
		}
	}
	if md := runOK(t, "-o", "markdown", "-loop", "100,5", "-capacity", "5"); strings.Contains(md, gapColumn) {
		t.Errorf("a gap column without policies:\n%s", md)
	}
}

// TestRunPlot: one SVG per trace, each with a curve per policy named in
// its legend; a PNG decodes.
func TestRunPlot(t *testing.T) {
	wasm := buildGo(t, t.TempDir(), "lru", "policy/lru")
	dir := t.TempDir()
	runOK(t, "-loop", "1000,50", "-zipf", "5000", "-capacity", "5,10,50", "-plot", filepath.Join(dir, "hits.svg"), wasm)
	for _, name := range []string{"hits-loop-50.svg", "hits-zipf-0.99.svg"} {
		svg, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("%s is not an SVG", name)
		}
		for _, legend := range []string{"lru.wasm", "lru (native, exact)", "arc (hashicorp)", "otter", "opt (belady)"} {
			if !bytes.Contains(svg, []byte(">"+legend+"<")) {
				t.Errorf("%s has no legend %q", name, legend)
			}
		}
	}
	file := filepath.Join(dir, "one.png")
	runOK(t, "-loop", "100,5", "-capacity", "1,2", "-plot", file)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", file, err)
	}
}

// TestRunProgressOnLoad: with -progress, loading a file says so on stderr
// even when stderr is not a terminal; -quiet silences it.
func TestRunProgressOnLoad(t *testing.T) {
	path := writeTrace(t, "t.lirs.zst", compressed(t, encode("lirs", loopKeys()), "zst"))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-progress=1h", "-trace", path, "-capacity", "5"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "replay: loaded t: ") || !strings.Contains(stderr.String(), "1,000 requests") {
		t.Errorf("stderr %q, want a line on loading t", stderr.String())
	}
	if !strings.Contains(stdout.String(), "(lirs, zstd), 1,000 requests, 50 distinct keys") {
		t.Errorf("stdout %q, want the trace's summary", stdout.String())
	}
	stderr.Reset()
	run(context.Background(), []string{"-quiet", "-progress", "-trace", path, "-capacity", "5"}, &stdout, &stderr)
	if stderr.Len() != 0 {
		t.Errorf("-quiet: stderr %q", stderr.String())
	}
}

func TestParseCapacity(t *testing.T) {
	for in, want := range map[string]capSpec{
		"1000":   {text: "1000", n: 1000},
		"64MiB":  {text: "64MiB", n: 64 << 20, bytes: true},
		"1 GB":   {text: "1 GB", n: 1e9, bytes: true},
		"0.5%":   {text: "0.5%", pct: 0.5},
		"100%":   {text: "100%", pct: 100},
		"4096B":  {text: "4096B", n: 4096, bytes: true},
		"2TiB":   {text: "2TiB", n: 2 << 40, bytes: true},
		"12 KiB": {text: "12 KiB", n: 12 << 10, bytes: true},
	} {
		if got, err := parseCapacity(in); err != nil || got != want {
			t.Errorf("parseCapacity(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "x", "1.5MiB", "0%", "101%", "%", "9223372036854775807KiB"} {
		if _, err := parseCapacity(bad); err == nil {
			t.Errorf("parseCapacity(%q): no error", bad)
		}
	}
}

func TestTraceName(t *testing.T) {
	for in, want := range map[string]string{
		"/x/oltp.gz": "oltp", "gli.lirs.gz": "gli", "w01.oracleGeneral.bin.zst": "w01",
		"cluster52.oracleGeneral.sample10.zst": "cluster52", "a.csv.xz": "a", "scarab.recs.trace": "scarab.recs.trace",
	} {
		if got := traceName(in); got != want {
			t.Errorf("traceName(%q) = %q, want %q", in, got, want)
		}
	}
}
