package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// report prints one row per store: growth per entry and beyond key and
// value, for RSS, Go heap and the group's accounted bytes, and the ratio
// of distcache's RSS overhead to Redis's.
func report(w io.Writer, o *options, rows []result) {
	data := float64(o.keyLen + o.valLen)
	n := float64(o.n)
	fmt.Fprintf(w, "%d entries, %d-byte keys, %d-byte values (%.0f B of key and value each)\n\n", o.n, o.keyLen, o.valLen, data)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tfill\tRSS +MB\tRSS B/entry\tbeyond k+v\theap +MB\theap B/entry\tbeyond k+v\taccounted B/entry\t")
	per := func(before, after int64) (string, string, string) {
		if before < 0 {
			return "-", "-", "-"
		}
		d := float64(after - before)
		return fmt.Sprintf("%.1f", d/1e6), fmt.Sprintf("%.1f", d/n), fmt.Sprintf("%.1f", d/n-data)
	}
	beyond := map[string]float64{}
	for _, r := range rows {
		rm, rp, rb := per(r.rssBefore, r.rssAfter)
		hm, hp, hb := per(r.heapBefore, r.heapAfter)
		acc := "-"
		if r.accounted >= 0 {
			acc = fmt.Sprintf("%.1f", float64(r.accounted)/n)
		}
		beyond[r.name] = float64(r.rssAfter-r.rssBefore)/n - data
		fmt.Fprintf(tw, "%s\t%.1fs\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.fill.Seconds(), rm, rp, rb, hm, hp, hb, acc)
	}
	tw.Flush()
	if len(rows) == 2 && beyond[rows[1].name] > 0 {
		fmt.Fprintf(w, "\nRSS beyond key and value, %s / %s: %.2f\n", rows[0].name, rows[1].name, beyond[rows[0].name]/beyond[rows[1].name])
	}
}
