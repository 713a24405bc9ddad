package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// replay loads the trace and the policies and prints a table per capacity.
func replay(ctx context.Context, o options, w io.Writer) error {
	keys, desc, err := loadTrace(o)
	if err != nil {
		return err
	}
	rt, err := plugin.NewRuntime(ctx, plugin.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	mods, err := compile(ctx, rt, o.policies)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "trace: %s, %d requests\n", desc, len(keys))
	for _, c := range o.capacities {
		rows, err := measure(ctx, mods, keys, c)
		if err != nil {
			return err
		}
		if err := printTable(w, rows); err != nil {
			return err
		}
	}
	return nil
}

// policyModule is a compiled policy plugin and the file it came from.
type policyModule struct {
	file string
	mod  *plugin.Module
}

func compile(ctx context.Context, rt *plugin.Runtime, paths []string) ([]policyModule, error) {
	var mods []policyModule
	for _, path := range paths {
		wasm, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		mod, err := rt.Compile(ctx, name, wasm)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if mod.Kind() != plugin.KindPolicy {
			return nil, fmt.Errorf("%s: a %s plugin, not a policy", path, mod.Kind())
		}
		mods = append(mods, policyModule{file: path, mod: mod})
	}
	return mods, nil
}

// measure replays keys through every policy and reference at capacity.
func measure(ctx context.Context, mods []policyModule, keys []uint64, capacity int) ([]row, error) {
	var rows []row
	for _, m := range mods {
		r, err := measurePlugin(ctx, m, keys, capacity)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	for _, ref := range trace.References() {
		start := time.Now()
		hits, total, err := ref.Replay(trace.Slice(keys), capacity)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{capacity, ref.Name, hits, total, time.Since(start)})
	}
	return rows, nil
}

func measurePlugin(ctx context.Context, m policyModule, keys []uint64, capacity int) (row, error) {
	pol, err := m.mod.NewPolicy(ctx, int64(capacity))
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", m.file, err)
	}
	start := time.Now()
	hits, total, err := trace.Replay(pol, trace.Slice(keys), capacity)
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
