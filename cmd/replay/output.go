package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printTable writes one table: a row per policy, reference and OPT.
func printTable(w io.Writer, t table) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ncapacity\tpolicy\thit ratio\thits\trequests\ttime")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%d\t%d\t%s\n",
			t.cap.label(), r.policy, r.ratio(), r.hits, r.total, r.elapsed.Round(time.Millisecond))
	}
	return tw.Flush()
}

// record is one result as -o csv and -o json write it.
type record struct {
	Trace         string  `json:"trace"`
	Capacity      int64   `json:"capacity"`
	Unit          string  `json:"unit"`                     // entries or bytes
	Share         float64 `json:"capacity_share,omitempty"` // the -capacity percentage it came from
	Policy        string  `json:"policy"`
	Kind          string  `json:"kind"` // policy, reference or opt
	Hits          int64   `json:"hits"`
	Requests      int64   `json:"requests"`
	HitRatio      float64 `json:"hit_ratio"` // hits / requests
	Elapsed       float64 `json:"elapsed_seconds"`
	DistinctKeys  int     `json:"distinct_keys"`
	DistinctBytes int64   `json:"distinct_bytes,omitempty"`
}

var csvHeader = []string{"trace", "capacity", "unit", "capacity_share", "policy", "kind", "hits", "requests",
	"hit_ratio", "elapsed_seconds", "distinct_keys", "distinct_bytes"}

func records(tables []table) []record {
	var out []record
	for _, t := range tables {
		for _, r := range t.rows {
			rec := record{Trace: t.trace.name, Capacity: t.cap.n, Unit: "entries", Share: t.cap.pct,
				Policy: r.policy, Kind: r.kind, Hits: r.hits, Requests: r.total, HitRatio: math.Round(r.ratio()*1e4) / 1e6,
				Elapsed: r.elapsed.Seconds(), DistinctKeys: t.trace.distinct, DistinctBytes: t.trace.bytes}
			if t.trace.sized() {
				rec.Unit = "bytes"
			}
			out = append(out, rec)
		}
	}
	return out
}

// writeCSV writes a header and a record per result.
func writeCSV(w io.Writer, tables []table) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range records(tables) {
		share := ""
		if r.Share > 0 {
			share = f(r.Share)
		}
		cw.Write([]string{r.Trace, fmt.Sprint(r.Capacity), r.Unit, share, r.Policy, r.Kind,
			fmt.Sprint(r.Hits), fmt.Sprint(r.Requests), strconv.FormatFloat(r.HitRatio, 'f', 6, 64),
			strconv.FormatFloat(r.Elapsed, 'f', 3, 64), fmt.Sprint(r.DistinctKeys), fmt.Sprint(r.DistinctBytes)})
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes an array of records.
func writeJSON(w io.Writer, tables []table) error {
	recs := records(tables)
	if recs == nil {
		recs = []record{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

// gapColumn is the last column of -o markdown.
const gapColumn = "best shipped − max(arc, otter)"

// writeMarkdown writes one table: a row per trace and capacity, a column
// per policy and reference (hit ratio in percent), and, when policies
// were given, the gap in points between the best of them and the better of
// ARC and otter. A list of the traces follows.
func writeMarkdown(w io.Writer, tables []table) error {
	var cols []string
	shipped := false
	for _, t := range tables {
		for _, r := range t.rows {
			if !slices.Contains(cols, r.policy) {
				cols = append(cols, r.policy)
			}
			shipped = shipped || r.kind == kindPolicy
		}
	}
	head := append([]string{"trace", "capacity"}, cols...)
	if shipped {
		head = append(head, gapColumn)
	}
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	line(sep)
	for _, t := range tables {
		cells := []string{strings.ReplaceAll(t.trace.name, "|", `\|`), t.cap.label()}
		for _, c := range cols {
			i := slices.IndexFunc(t.rows, func(r row) bool { return r.policy == c })
			if i < 0 {
				cells = append(cells, "–")
				continue
			}
			cells = append(cells, fmt.Sprintf("%.2f", t.rows[i].ratio()))
		}
		if shipped {
			cells = append(cells, gap(t.rows))
		}
		line(cells)
	}
	b.WriteString("\nHit ratios in %.")
	if shipped {
		b.WriteString(" The last column is the best of the policies given, less the better of hashicorp's ARC and otter, in points.")
	}
	b.WriteString("\n\n")
	var last *loaded
	for _, t := range tables {
		if t.trace != last {
			last = t.trace
			fmt.Fprintf(&b, "- %s: %s\n", t.trace.name, t.trace.summary())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// gap is the best policy's hit ratio less the better of ARC's and otter's,
// in points with a sign, or "–" without one or the other.
func gap(rows []row) string {
	best, ref := math.Inf(-1), math.Inf(-1)
	for _, r := range rows {
		switch {
		case r.kind == kindPolicy:
			best = max(best, r.ratio())
		case r.policy == "arc (hashicorp)" || r.policy == "otter":
			ref = max(ref, r.ratio())
		}
	}
	if math.IsInf(best, -1) || math.IsInf(ref, -1) {
		return "–"
	}
	return fmt.Sprintf("%+.2f", best-ref)
}
