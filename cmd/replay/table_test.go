package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeTableMeetsTheBar reads the hit-ratio table that go tool task
// hitratio writes into plugins/README.md and checks what it promises: a
// row for every shipped policy on every trace family it names, and on
// every row the best shipped policy at or above the better of ARC and
// otter, less 0.1 point.
func TestReadmeTableMeetsTheBar(t *testing.T) {
	b, err := os.ReadFile("../../plugins/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, "<!-- hitratio:begin"), strings.Index(doc, "<!-- hitratio:end -->")
	if start < 0 || end < start {
		t.Fatal("plugins/README.md has no hitratio table: go tool task hitratio TRACES=DIR writes it")
	}
	traces := map[string]int{}
	for _, line := range strings.Split(doc[start:end], "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| trace") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		gap, err := strconv.ParseFloat(cells[len(cells)-1], 64)
		if err != nil {
			t.Fatalf("row %q: last cell is not a gap in points: %v", line, err)
		}
		if gap < -0.1 {
			t.Errorf("%s at %s: the best shipped policy is %.2f points below max(arc, otter)", cells[0], cells[1], gap)
		}
		traces[cells[0]]++
	}
	for _, want := range []string{"oltp", "loop", "gli", "zipf-0.99", "zipf-0.8", "zipf-1.2", "loop-1000"} {
		if traces[want] == 0 {
			t.Errorf("no rows for trace %s", want)
		}
	}
	header := doc[start:end]
	for _, p := range []string{"arc.wasm", "fifo.wasm", "lfu.wasm", "lru.wasm", "s3fifo.wasm", "sieve.wasm", "wtinylfu.wasm"} {
		if !strings.Contains(header, "| "+p+" |") {
			t.Errorf("the table has no column for the shipped policy %s", p)
		}
	}
}
