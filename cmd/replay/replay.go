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
	"text/tabwriter"
	"time"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/server/plugin"
)

// row is one line of a results table.
type row struct {
	capacity    int
	policy      string
	hits, total int64
	elapsed     time.Duration
}

// cell is one replay: a policy plugin or a reference at one capacity.
type cell struct {
	table, index int           // where its row goes
	capacity     int           // entries
	mod          *policyModule // nil for a reference
	ref          trace.Reference
}

// replay loads the trace and the policies, replays every (policy,
// capacity) cell on GOMAXPROCS workers and prints a table per capacity, in
// the order of the flags, as soon as that table's cells are done. Notes
// (skipped loaders) and progress go to stderr.
func replay(ctx context.Context, o options, stdout, stderr io.Writer) error {
	keys, desc, err := loadTrace(o)
	if err != nil {
		return err
	}
	rt, err := plugin.NewRuntime(ctx, plugin.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	mods, err := compile(ctx, rt, o.policies, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trace: %s, %d requests\n", desc, len(keys))
	cells, tables := plan(mods, o.capacities)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	prog := newProgress(len(cells), int64(len(cells))*int64(len(keys)))
	stop := prog.report(stderr, o.progress)
	defer stop()
	rows := make([][]row, len(tables))
	for i, n := range tables {
		rows[i] = make([]row, n)
	}
	done, wait := runCells(ctx, cancel, cells, keys, rows, prog)
	defer func() { cancel(nil); wait() }()
	for i := range tables {
		select {
		case <-done[i]:
		case <-ctx.Done():
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if err := printTable(stdout, rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// plan lists the cells, capacity by capacity: each capacity's policies in
// the order given, then the references. tables[i] is capacity i's count.
func plan(mods []policyModule, capacities []int) (cells []cell, tables []int) {
	for t, c := range capacities {
		i := 0
		for m := range mods {
			cells = append(cells, cell{table: t, index: i, capacity: c, mod: &mods[m]})
			i++
		}
		for _, ref := range trace.References() {
			cells = append(cells, cell{table: t, index: i, capacity: c, ref: ref})
			i++
		}
		tables = append(tables, i)
	}
	return cells, tables
}

// runCells replays the cells on GOMAXPROCS workers, in order, writing each
// row into rows. done[t] closes when table t's cells are all done; wait
// returns when every worker has. The first failure cancels ctx with its
// error: the cells not started are skipped, the running ones stop early.
func runCells(ctx context.Context, cancel context.CancelCauseFunc, cells []cell, keys []uint64,
	rows [][]row, prog *progress) (done []chan struct{}, wait func()) {
	left := make([]int, len(rows))
	done = make([]chan struct{}, len(rows))
	for t := range rows {
		left[t], done[t] = len(rows[t]), make(chan struct{})
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
				r, err := runCell(ctx, c, prog.reader(ctx, keys))
				if err != nil {
					cancel(err)
					continue
				}
				rows[c.table][c.index] = r
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

func runCell(ctx context.Context, c cell, r trace.Reader) (row, error) {
	if c.mod != nil {
		return measurePlugin(ctx, *c.mod, r, c.capacity)
	}
	start := time.Now()
	hits, total, err := c.ref.Replay(r, c.capacity)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", c.ref.Name, err)
	}
	return row{c.capacity, c.ref.Name, hits, total, time.Since(start)}, nil
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

func measurePlugin(ctx context.Context, m policyModule, r trace.Reader, capacity int) (row, error) {
	pol, err := m.mod.NewPolicy(ctx, int64(capacity))
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", m.file, err)
	}
	start := time.Now()
	hits, total, err := trace.Replay(pol, r, capacity)
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
	return row{capacity, filepath.Base(m.file), hits, total, elapsed}, nil
}

func printTable(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ncapacity\tpolicy\thit ratio\thits\trequests\ttime")
	for _, r := range rows {
		ratio := 0.0
		if r.total > 0 {
			ratio = 100 * float64(r.hits) / float64(r.total)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.2f%%\t%d\t%d\t%s\n",
			r.capacity, r.policy, ratio, r.hits, r.total, r.elapsed.Round(time.Millisecond))
	}
	return tw.Flush()
}
