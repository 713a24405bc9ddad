package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/server/plugin"
)

// The kinds of rows.
const (
	kindPolicy    = "policy"    // a policy plugin given on the command line
	kindReference = "reference" // a native cache
	kindOPT       = "opt"       // Belady's OPT
)

// The names of the OPT row, without and with sizes.
const (
	optName      = "opt (belady)"
	optSizedName = "belady-size (heuristic)"
)

// row is one result: a policy or reference at one capacity of one trace.
type row struct {
	policy      string
	kind        string
	hits, total int64
	elapsed     time.Duration
}

// ratio is the hit ratio in percent.
func (r row) ratio() float64 {
	if r.total == 0 {
		return 0
	}
	return 100 * float64(r.hits) / float64(r.total)
}

// table is the rows of one capacity of one trace.
type table struct {
	trace *loaded
	cap   capacity
	rows  []row
}

// cell is one replay: a policy plugin, a reference or OPT at one capacity
// of one trace.
type cell struct {
	table, index int // where its row goes
	tr           *loaded
	cap          capacity
	mod          *policyModule    // a plugin, or
	ref          *trace.Reference // a reference, or
	opt          bool             // OPT
}

// replay loads the traces and the policies, replays every cell on
// GOMAXPROCS workers and writes the results: with -o table, a table per
// capacity of each trace, in the order of the flags, as soon as its cells
// are done; with the other outputs, everything at the end. Notes (skipped
// loaders) and progress go to stderr.
func replay(ctx context.Context, o options, stdout, stderr io.Writer) error {
	for _, p := range o.policies { // before a long load, not after
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	traces, err := loadTraces(o, stderr, o.progress)
	if err != nil {
		return err
	}
	rt, err := plugin.NewRuntime(ctx, plugin.Config{PolicyMemoryLimitMiB: memoryLimitMiB(traces)})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	mods, err := compile(ctx, rt, o.policies, stderr)
	if err != nil {
		return err
	}
	tables, cells := plan(traces, mods, o.opt)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var requests int64
	for _, c := range cells {
		requests += int64(len(c.tr.keys))
	}
	prog := newProgress(len(cells), requests)
	stop := prog.report(stderr, o.progress)
	defer stop()
	done, wait := runCells(ctx, cancel, cells, tables, prog)
	defer func() { cancel(nil); wait() }()
	for i, t := range tables {
		select {
		case <-done[i]:
		case <-ctx.Done():
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if o.output != "table" {
			continue
		}
		if i == 0 || tables[i-1].trace != t.trace {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintln(stdout, "trace:", t.trace.summary())
		}
		if err := printTable(stdout, t); err != nil {
			return err
		}
	}
	stop()
	switch o.output {
	case "csv":
		err = writeCSV(stdout, tables)
	case "json":
		err = writeJSON(stdout, tables)
	case "markdown":
		err = writeMarkdown(stdout, tables)
	}
	if err != nil {
		return err
	}
	if o.plot != "" {
		return writePlots(o.plot, traces, tables)
	}
	return nil
}

// summary describes a trace in one line.
func (t *loaded) summary() string {
	s := fmt.Sprintf("%s, %s requests, %s distinct keys", t.desc, commas(int64(len(t.keys))), commas(int64(t.distinct)))
	if t.sized() {
		s += fmt.Sprintf(", %s distinct bytes (%s); sized: capacities in bytes", commas(t.bytes), byteString(t.bytes))
	}
	return s
}

// memoryLimitMiB is the memory cap of each policy instance: what the
// largest cell needs. A group's cap derives from its capacity in bytes;
// replaying by entry count, a capacity of n entries gets what a group of
// n of the smallest entries gets, so that a capacity of many entries (5%
// of a large trace's keys) does not run out of memory.
func memoryLimitMiB(traces []*loaded) int {
	var most int64
	for _, t := range traces {
		for _, c := range t.caps {
			need := plugin.PolicyMemoryLimit(c.n)
			if !t.sized() {
				need = min(plugin.PolicyMemoryBase+c.n*plugin.PolicyMemoryPerEntry, plugin.MaxMemoryBytes)
			}
			most = max(most, need)
		}
	}
	return int((most + 1<<20 - 1) >> 20)
}

// plan lists the tables, trace by trace and capacity by capacity, each
// with its policies in the order given, then the references, then OPT;
// and the cells, the slow plugin cells first so that the cores stay busy
// to the end.
func plan(traces []*loaded, mods []policyModule, opt bool) (tables []table, cells []cell) {
	var refs []cell
	for _, tr := range traces {
		for _, c := range tr.caps {
			t := len(tables)
			i := 0
			for m := range mods {
				cells = append(cells, cell{table: t, index: i, tr: tr, cap: c, mod: &mods[m]})
				i++
			}
			for _, ref := range trace.References() {
				if tr.sized() && ref.ReplaySized == nil {
					continue
				}
				refs = append(refs, cell{table: t, index: i, tr: tr, cap: c, ref: &ref})
				i++
			}
			if opt {
				refs = append(refs, cell{table: t, index: i, tr: tr, cap: c, opt: true})
				i++
			}
			tables = append(tables, table{trace: tr, cap: c, rows: make([]row, i)})
		}
	}
	return tables, append(cells, refs...)
}

// runCells replays the cells on GOMAXPROCS workers, in order, writing each
// row into its table. done[t] closes when table t's cells are all done;
// wait returns when every worker has. The first failure cancels ctx with
// its error: the cells not started are skipped, the running ones stop
// early.
func runCells(ctx context.Context, cancel context.CancelCauseFunc, cells []cell, tables []table,
	prog *progress) (done []chan struct{}, wait func()) {
	left := make([]int, len(tables))
	done = make([]chan struct{}, len(tables))
	for t := range tables {
		left[t], done[t] = len(tables[t].rows), make(chan struct{})
	}
	var mu sync.Mutex // guards left
	jobs := make(chan cell)
	go func() {
		defer close(jobs)
		for _, c := range cells {
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(cells)) {
		wg.Go(func() {
			for c := range jobs {
				r, err := runCell(ctx, c, prog)
				if err != nil {
					cancel(err)
					continue
				}
				tables[c.table].rows[c.index] = r
				prog.cellDone()
				mu.Lock()
				if left[c.table]--; left[c.table] == 0 {
					close(done[c.table])
				}
				mu.Unlock()
			}
		})
	}
	return done, wg.Wait
}

func runCell(ctx context.Context, c cell, prog *progress) (row, error) {
	tr := c.tr
	start := time.Now()
	switch {
	case c.mod != nil:
		return measurePlugin(ctx, *c.mod, c, prog)
	case c.opt:
		r := row{policy: optName, kind: kindOPT, total: int64(len(tr.keys))}
		if tr.sized() {
			r.policy, r.hits = optSizedName, tr.future.OPTSized(c.cap.n)
		} else {
			r.hits = tr.future.OPT(int(c.cap.n))
		}
		prog.done.Add(r.total)
		r.elapsed = time.Since(start)
		return r, ctx.Err()
	}
	var hits, total int64
	var err error
	if tr.sized() {
		hits, total, err = c.ref.ReplaySized(prog.sizedReader(ctx, tr.keys, tr.sizes), c.cap.n)
	} else {
		hits, total, err = c.ref.Replay(prog.reader(ctx, tr.keys), int(c.cap.n))
	}
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", c.ref.Name, err)
	}
	return row{c.ref.Name, kindReference, hits, total, time.Since(start)}, nil
}

// policyModule is a compiled policy plugin and the file it came from.
type policyModule struct {
	file string
	mod  *plugin.Module
}

// compile compiles the files in parallel and returns their policies in the
// order given. A loader module (as in a plugins/*.wasm glob) is skipped
// with a note on stderr; anything else that is not a policy fails.
func compile(ctx context.Context, rt *plugin.Runtime, paths []string, stderr io.Writer) ([]policyModule, error) {
	mods := make([]*plugin.Module, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			mods[i], errs[i] = compileOne(ctx, rt, path)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []policyModule
	for i, mod := range mods {
		if mod.Kind() != plugin.KindPolicy {
			fmt.Fprintf(stderr, "skipping %s: a %s, not a policy\n", paths[i], mod.Kind())
			mod.Close(ctx)
			continue
		}
		out = append(out, policyModule{file: paths[i], mod: mod})
	}
	return out, nil
}

func compileOne(ctx context.Context, rt *plugin.Runtime, path string) (*plugin.Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	mod, err := rt.Compile(ctx, name, wasm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mod, nil
}

func measurePlugin(ctx context.Context, m policyModule, c cell, prog *progress) (row, error) {
	pol, err := m.mod.NewPolicy(ctx, c.cap.n)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", m.file, err)
	}
	start := time.Now()
	var hits, total int64
	if c.tr.sized() {
		hits, total, err = trace.ReplaySized(pol, prog.sizedReader(ctx, c.tr.keys, c.tr.sizes), c.cap.n)
	} else {
		hits, total, err = trace.Replay(pol, prog.reader(ctx, c.tr.keys), int(c.cap.n))
	}
	elapsed := time.Since(start)
	// A failed instance (a trap, a deadline) names no more victims and
	// Replay evicts for it: its row would be wrong, so report the failure.
	if f, ok := any(pol).(interface{ Err() error }); ok && err == nil {
		err = f.Err()
	}
	err = errors.Join(err, pol.Close())
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", m.file, err)
	}
	return row{filepath.Base(m.file), kindPolicy, hits, total, elapsed}, nil
}
