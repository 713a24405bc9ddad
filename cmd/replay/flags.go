package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distcache/distcache/internal/trace"
)

// options are the command's parsed flags and arguments.
type options struct {
	sources    []source // the traces, in the order of the flags
	format     trace.Format
	keys       uint64
	s          float64
	seed       uint64
	capacities []capSpec
	sizes      string // "auto", "true" or "false"
	output     string // table, csv, json or markdown
	plot       string // "" or a file name ending in a format gonum/plot writes
	opt        bool
	policies   []string      // .wasm paths
	quiet      bool          // -quiet: no progress lines
	progress   time.Duration // how often to report progress; 0: never
	// forceProgress is -progress: report even when stderr is not a terminal.
	forceProgress time.Duration
}

// source is one trace to replay: a file, or a synthetic trace.
type source struct {
	path    string // a file, or ""
	zipf    int    // -zipf N, or 0
	loopN   int    // -loop N,LEN, or 0
	loopLen uint64
}

// outputs are the values of -o.
var outputs = []string{"table", "csv", "json", "markdown"}

// plotFormats are the extensions of -plot that gonum/plot writes.
var plotFormats = []string{".svg", ".png", ".pdf", ".jpg", ".jpeg", ".tif", ".tiff", ".eps"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{sizes: "auto"}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replay [flags] POLICY.wasm...")
		fs.PrintDefaults()
	}
	fs.Func("trace", "replay the trace `file` (repeat for several; formats: see -format; plain, gzip, xz or zstd)", func(s string) error {
		o.sources = append(o.sources, source{path: s})
		return nil
	})
	format := fs.String("format", "auto", "format of every -trace: "+formatNames()+
		"\n(auto: by the file name, then the content; corda and scarab mean binary, oracleGeneral oracle)")
	fs.Func("zipf", "replay `N` synthetic Zipf requests", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return errors.New("want a number of requests >= 1")
		}
		o.sources = append(o.sources, source{zipf: n})
		return nil
	})
	fs.Uint64Var(&o.keys, "keys", 100_000, "keys of the -zipf trace")
	fs.Float64Var(&o.s, "s", 0.99, "exponent of the -zipf trace (>= 0)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the -zipf trace")
	fs.Func("loop", "replay `N,LEN`: N requests cycling through LEN keys", func(s string) error {
		n, length, err := parseLoop(s)
		o.sources = append(o.sources, source{loopN: n, loopLen: length})
		return err
	})
	caps := fs.String("capacity", "100,1000,5000", "cache capacities, comma-separated: entries (1000), a share of the distinct\n"+
		"keys (5%), or with -sizes bytes (64MiB, 1GB, 4096) or a share of the distinct bytes (5%)")
	fs.Var(&triState{&o.sizes}, "sizes", "replay by object size where the trace carries sizes (auto), always (true: a trace\n"+
		"without sizes is an error), or never (false: every entry costs 1)")
	fs.StringVar(&o.output, "o", "table", "output: "+strings.Join(outputs, ", "))
	fs.StringVar(&o.plot, "plot", "", "write a plot of hit ratio against capacity to `file` (.svg or .png; one file\n"+
		"per trace, named FILE-TRACE.svg, with several)")
	fs.BoolVar(&o.opt, "opt", true, "replay Belady's OPT as a reference (with sizes, the furthest-next-use heuristic)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.Var(&durationFlag{&o.forceProgress}, "progress", "progress lines on stderr even when it is not a terminal (every 5s;\n"+
		"-progress=2s for another interval)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.policies = fs.Args()
	if len(o.sources) == 0 {
		return o, errors.New("give a trace: -trace FILE (one or more), -zipf N or -loop N,LEN")
	}
	f, err := trace.ParseFormat(*format)
	if err != nil {
		return o, fmt.Errorf("-format: %s", strings.TrimPrefix(err.Error(), "trace: "))
	}
	o.format = f
	if !slices.Contains(outputs, o.output) {
		return o, fmt.Errorf("-o: unsupported output %q; want one of %s", o.output, strings.Join(outputs, ", "))
	}
	if o.plot != "" && !slices.Contains(plotFormats, strings.ToLower(filepath.Ext(o.plot))) {
		return o, fmt.Errorf("-plot %q: unsupported plot format; want a file name ending in .svg or .png (or %s)",
			o.plot, strings.Join(plotFormats[2:], ", "))
	}
	o.capacities, err = parseCapacities(*caps)
	return o, err
}

func formatNames() string {
	var names []string
	for _, f := range trace.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// capSpec is one -capacity value.
type capSpec struct {
	text  string  // as given
	n     int64   // entries or bytes; 0 for a share
	pct   float64 // a share of the distinct keys or bytes, in percent; 0 if n is set
	bytes bool    // n was given with a unit, so it is bytes
}

var (
	sizeRE = regexp.MustCompile(`^([0-9]+) ?(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$`)
	units  = map[string]int64{"": 1, "B": 1, "KB": 1e3, "KiB": 1 << 10, "MB": 1e6, "MiB": 1 << 20,
		"GB": 1e9, "GiB": 1 << 30, "TB": 1e12, "TiB": 1 << 40}
)

func parseCapacities(s string) ([]capSpec, error) {
	var caps []capSpec
	for f := range strings.SplitSeq(s, ",") {
		c, err := parseCapacity(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-capacity %q: %w", s, err)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

func parseCapacity(s string) (capSpec, error) {
	const want = "want entries >= 1 (1000), a share of the distinct keys or bytes (5%), or bytes (64MiB)"
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(pct > 0 && pct <= 100) {
			return capSpec{}, fmt.Errorf("%q: a share must be more than 0%% and at most 100%%", s)
		}
		return capSpec{text: s, pct: pct}, nil
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return capSpec{}, fmt.Errorf("%q: %s", s, want)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/units[m[2]] {
		return capSpec{}, fmt.Errorf("%q: %s", s, want)
	}
	return capSpec{text: s, n: n * units[m[2]], bytes: m[2] != ""}, nil
}

// parseLoop parses "N,LEN".
func parseLoop(s string) (n int, length uint64, err error) {
	ns, ls, ok := strings.Cut(s, ",")
	n, err1 := strconv.Atoi(strings.TrimSpace(ns))
	length, err2 := strconv.ParseUint(strings.TrimSpace(ls), 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 || length == 0 {
		return 0, 0, fmt.Errorf("-loop %q: want N,LEN, both >= 1", s)
	}
	return n, length, nil
}

// triState is a flag that is auto unless set: -sizes means true.
type triState struct{ v *string }

func (t *triState) String() string {
	if t.v == nil {
		return "auto"
	}
	return *t.v
}

func (t *triState) Set(s string) error {
	switch strings.ToLower(s) {
	case "auto":
		*t.v = "auto"
	case "true", "1", "on":
		*t.v = "true"
	case "false", "0", "off":
		*t.v = "false"
	default:
		return errors.New("want auto, true or false")
	}
	return nil
}

func (t *triState) IsBoolFlag() bool { return true }

// durationFlag is a flag that, alone, means every progressEvery, and takes
// a duration or false.
type durationFlag struct{ v *time.Duration }

func (d *durationFlag) String() string {
	if d.v == nil || *d.v == 0 {
		return "false"
	}
	return d.v.String()
}

func (d *durationFlag) Set(s string) error {
	switch s {
	case "true":
		*d.v = progressEvery
		return nil
	case "false":
		*d.v = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return errors.New("want true, false or a duration such as 2s")
	}
	*d.v = v
	return nil
}

func (d *durationFlag) IsBoolFlag() bool { return true }
