package main

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots writes a plot of hit ratio against capacity for each trace:
// to path with one trace, to path with "-TRACE" before its extension with
// several. The extension picks the format (.svg, .png, ...).
func writePlots(path string, traces []*loaded, tables []table) error {
	for _, tr := range traces {
		file := path
		if len(traces) > 1 {
			ext := filepath.Ext(path)
			file = strings.TrimSuffix(path, ext) + "-" + fileSafe(tr.name) + ext
		}
		var mine []table
		for _, t := range tables {
			if t.trace == tr {
				mine = append(mine, t)
			}
		}
		if err := plotTrace(file, tr, mine); err != nil {
			return fmt.Errorf("-plot %s: %w", file, err)
		}
	}
	return nil
}

// plotTrace plots one curve per policy and reference: hit ratio (%)
// against capacity, on a log scale when the capacities span ten times or
// more.
func plotTrace(file string, tr *loaded, tables []table) error {
	p := plot.New()
	p.Title.Text = "Hit ratio on " + tr.name
	p.X.Label.Text = "capacity (entries)"
	if tr.sized() {
		p.X.Label.Text = "capacity (bytes)"
	}
	p.Y.Label.Text = "hit ratio (%)"
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	xs := make([]float64, len(tables))
	for i, t := range tables {
		xs[i] = float64(t.cap.n)
	}
	if lo, hi := slices.Min(xs), slices.Max(xs); hi >= 10*lo {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	var names []string
	for _, t := range tables {
		for _, r := range t.rows {
			if !slices.Contains(names, r.policy) {
				names = append(names, r.policy)
			}
		}
	}
	for i, name := range names {
		var xys plotter.XYs
		for _, t := range tables {
			if j := slices.IndexFunc(t.rows, func(r row) bool { return r.policy == name }); j >= 0 {
				xys = append(xys, plotter.XY{X: float64(t.cap.n), Y: t.rows[j].ratio()})
			}
		}
		slices.SortStableFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, file)
}
