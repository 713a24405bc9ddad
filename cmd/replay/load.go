package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/distcache/distcache/internal/trace"
)

// loaded is a trace in memory, indexed, with its capacities resolved.
type loaded struct {
	name     string // short: a file's base name without extensions, "zipf-0.99", "loop-1500"
	desc     string // what it is: the path and format, or the generator's parameters
	keys     []uint64
	sizes    []uint32 // each request's size with sized replay, else nil
	future   *trace.Future
	distinct int
	bytes    int64 // distinct bytes with sized replay
	caps     []capacity
}

// sized reports whether the trace is replayed by object size.
func (t *loaded) sized() bool { return t.sizes != nil }

// capacity is a -capacity value resolved for one trace.
type capacity struct {
	n     int64   // entries, or bytes when the trace is sized
	pct   float64 // the share it was given as, or 0
	bytes bool
}

// label is how tables and plots name a capacity: the entries, or bytes
// in their largest exact unit, and the share it came from.
func (c capacity) label() string {
	s := fmt.Sprint(c.n)
	if c.bytes {
		s = exactBytes(c.n)
	}
	if c.pct > 0 {
		s += fmt.Sprintf(" (%g%%)", c.pct)
	}
	return s
}

// loadTraces loads every source in order, reporting progress to w every
// interval (0: never).
func loadTraces(o options, w io.Writer, every time.Duration) ([]*loaded, error) {
	var out []*loaded
	names := map[string]int{}
	for _, src := range o.sources {
		t, err := loadOne(o, src, w, every)
		if err != nil {
			return nil, err
		}
		if names[t.name]++; names[t.name] > 1 {
			t.name = fmt.Sprintf("%s#%d", t.name, names[t.name])
		}
		if err := t.resolve(o.capacities); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func loadOne(o options, src source, w io.Writer, every time.Duration) (*loaded, error) {
	t := &loaded{}
	var err error
	switch {
	case src.path != "":
		if err := t.loadFile(o, src.path, w, every); err != nil {
			return nil, err
		}
	case src.zipf > 0:
		t.name = fmt.Sprintf("zipf-%g", o.s)
		t.desc = fmt.Sprintf("zipf (%d keys, s=%g, seed %d)", o.keys, o.s, o.seed)
		t.keys, err = trace.Collect(trace.Zipf(src.zipf, o.keys, o.s, o.seed))
	default:
		t.name = fmt.Sprintf("loop-%d", src.loopLen)
		t.desc = fmt.Sprintf("loop over %d keys", src.loopLen)
		t.keys, err = trace.Collect(trace.Loop(src.loopN, src.loopLen))
	}
	if err != nil {
		return nil, err
	}
	if src.path == "" && o.sizes == "true" {
		return nil, fmt.Errorf("-sizes: the %s trace carries no sizes", t.name)
	}
	if len(t.keys) == 0 {
		return nil, fmt.Errorf("%s: the trace has no requests", t.desc)
	}
	stop := ticker(w, every, func() string {
		return fmt.Sprintf("replay: indexing %s (%s requests)", t.name, commas(int64(len(t.keys))))
	})
	t.future, err = trace.NewFuture(t.keys, t.sizes)
	stop()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.desc, err)
	}
	t.distinct, t.bytes = t.future.Distinct(), t.future.DistinctBytes()
	if !o.opt {
		t.future = nil // only OPT needs it; free its 8 bytes a request
	}
	return t, nil
}

// loadFile reads the trace file at path into t, reporting how far it is.
func (t *loaded) loadFile(o options, path string, w io.Writer, every time.Duration) error {
	f, err := trace.Open(path, o.format)
	if err != nil {
		return err
	}
	defer f.Close()
	t.name = traceName(path)
	t.desc = fmt.Sprintf("%s (%s", path, f.Format)
	if f.Codec != "" {
		t.desc += ", " + f.Codec
	}
	t.desc += ")"
	sized := f.Sized()
	switch {
	case o.sizes == "true" && !sized:
		return fmt.Errorf("-sizes: %s carries no sizes (format %s)", path, f.Format)
	case o.sizes == "false":
		sized = false
	}
	start := time.Now()
	stop := ticker(w, every, func() string {
		read, size, n := f.Progress()
		share := ""
		if size > 0 {
			share = fmt.Sprintf(" (%.0f%%)", 100*float64(read)/float64(size))
		}
		return fmt.Sprintf("replay: loading %s: %s of %s read%s, %s requests, %s",
			t.name, byteString(read), byteString(size), share, commas(n), time.Since(start).Round(time.Second))
	})
	tr, err := f.Load()
	stop()
	if err != nil {
		return err
	}
	if every > 0 {
		read, _, _ := f.Progress()
		fmt.Fprintf(w, "replay: loaded %s: %s read, %s requests, %s\n",
			t.name, byteString(read), commas(int64(len(tr.Keys))), time.Since(start).Round(time.Millisecond))
	}
	t.keys = tr.Keys
	if sized {
		t.sizes = tr.Sizes
	}
	return nil
}

// resolve turns the -capacity values into capacities of t: shares of its
// distinct keys or bytes, rounded up.
func (t *loaded) resolve(specs []capSpec) error {
	for _, s := range specs {
		c := capacity{n: s.n, pct: s.pct, bytes: t.sized()}
		switch {
		case s.bytes && !t.sized():
			return fmt.Errorf("-capacity %s is in bytes, but %s is replayed by entry count "+
				"(it carries no sizes, or -sizes=false)", s.text, t.name)
		case s.pct > 0 && t.sized():
			c.n = max(1, int64(math.Ceil(s.pct/100*float64(t.bytes))))
		case s.pct > 0:
			c.n = max(1, int64(math.Ceil(s.pct/100*float64(t.distinct))))
		}
		if !t.sized() && c.n > math.MaxInt32 {
			return fmt.Errorf("-capacity %s: more than %d entries", s.text, math.MaxInt32)
		}
		t.caps = append(t.caps, c)
	}
	return nil
}

// knownExts are the extensions traceName strips from a file name.
var knownExts = []string{".gz", ".gzip", ".xz", ".zst", ".zstd", ".arc", ".lirs", ".trc", ".csv", ".bin", ".keys"}

// traceName is a trace file's name without its directory, compression
// and format extensions, or a libCacheSim ".oracleGeneral..." tail.
func traceName(path string) string {
	name := filepath.Base(path)
	if i := strings.Index(strings.ToLower(name), ".oraclegeneral"); i > 0 {
		return name[:i]
	}
	for again := true; again; {
		again = false
		for _, ext := range knownExts {
			if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
				name, again = name[:len(name)-len(ext)], true
			}
		}
	}
	return name
}

// fileSafe makes a trace name fit a file name.
func fileSafe(name string) string {
	return regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(name, "_")
}

// exactBytes writes n bytes in the largest unit that divides it exactly
// (64MiB, 1GB), else as a number.
func exactBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n > 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprint(n)
}

// byteString writes n bytes for people: 1.5 GiB, 912 B.
func byteString(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}
