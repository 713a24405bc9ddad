package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// report is everything a run measured, as -json prints it.
type report struct {
	Target    string  `json:"target"`  // the node's base URL, or "started" with -start
	Redis     string  `json:"redis"`   // "started", an address, or "off"
	Note      string  `json:"note"`    // why Redis is missing, when it is
	CPUs      int     `json:"cpus"`    // CPUs this process could use before pinning
	Pinning   pinning `json:"pinning"` // CPU -1: not pinned
	Keys      int     `json:"keys"`
	Value     int     `json:"value_bytes"`
	Seconds   float64 `json:"seconds_per_cell"`
	GoVersion string  `json:"go_version"`
	Rows      []row   `json:"rows"`
}

// row is one line of the table: distcache in one protocol beside Redis
// under the same operation and callers.
type row struct {
	Distcache result  `json:"distcache"`
	Redis     *result `json:"redis,omitempty"`
	// Ratio is distcache's ops/s over Redis's; 0 without Redis.
	Ratio float64 `json:"ratio,omitempty"`
	// CPURatio is Redis's server CPU time per call over distcache's: the
	// ratio a server on a core of its own would reach; 0 when unknown.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints one line per row, aligned, with a header saying how
// the numbers were taken.
func (r *report) writeTable(w io.Writer) error {
	pinned := "not pinned"
	if r.Pinning.ServerCPU >= 0 {
		pinned = fmt.Sprintf("servers on CPU %d, load generator on CPU %d", r.Pinning.ServerCPU, r.Pinning.LoadCPU)
	} else if r.Pinning.Note != "" {
		pinned = r.Pinning.Note
	}
	fmt.Fprintf(w, "# %d keys, %d-byte values, %v per cell, %d CPUs, %s, %s\n",
		r.Keys, r.Value, time.Duration(r.Seconds*float64(time.Second)), r.CPUs, pinned, r.GoVersion)
	if r.Note != "" {
		fmt.Fprintf(w, "# %s\n", r.Note)
	}
	for _, x := range r.Rows {
		if x.Distcache.Batch > 1 {
			fmt.Fprintln(w, "# op/N: N keys per call (Redis: a pipeline of N commands); ops/s, cpu/op and allocs/op count keys, latencies are per call")
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tprotocol\tcallers\tdistcache ops/s\tp50\tp99\tp99.9\terrors\tcpu/op\tallocs/op\tredis ops/s\tp50\tp99\tp99.9\terrors\tcpu/op\tratio\tcpu ratio\t")
	for _, x := range r.Rows {
		d := x.Distcache
		op := d.Op
		if d.Batch > 1 {
			op = fmt.Sprintf("%s/%d", d.Op, d.Batch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%.0f\t", op, d.Protocol, d.Callers, cells(d), cpuCell(d.ServerCPUus), d.ServerAllocs)
		if x.Redis != nil {
			fmt.Fprintf(tw, "%s\t%s\t%.2fx\t%s\t\n", cells(*x.Redis), cpuCell(x.Redis.ServerCPUus), x.Ratio, ratioCell(x.CPURatio))
		} else {
			fmt.Fprintln(tw, "-\t-\t-\t-\t-\t-\t-\t-\t")
		}
	}
	return tw.Flush()
}

// cells formats a result's ops/s, latencies and errors as table cells.
func cells(r result) string {
	return fmt.Sprintf("%.0f\t%s\t%s\t%s\t%d", r.OpsPerSec, micros(r.P50us), micros(r.P99us), micros(r.P999us), r.Errors)
}

// cpuCell formats a server's CPU time per call.
func cpuCell(us float64) string {
	if us <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fµs", us)
}

func ratioCell(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// micros formats a latency in microseconds: "87µs", "1.25ms".
func micros(us int64) string {
	if us < 1000 {
		return fmt.Sprintf("%dµs", us)
	}
	return fmt.Sprintf("%.2fms", float64(us)/1000)
}
