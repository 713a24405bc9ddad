package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/distcache/distcache/server/cache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestInProcess runs the in-process measurement on a few entries and
// checks that the report has its row and plausible figures.
func TestInProcess(t *testing.T) {
	o := &options{n: 20_000, keyLen: 16, valLen: 100, node: true, inproc: true, redis: "off"}
	r, err := measureInProcess(o)
	if err != nil {
		t.Fatal(err)
	}
	perEntry := float64(r.heapAfter-r.heapBefore) / float64(o.n)
	if perEntry < 116 || perEntry > 1000 {
		t.Errorf("heap grew %.1f B per 116-byte entry", perEntry)
	}
	if want := int64(o.n) * (116 + cache.EntryOverhead); r.accounted != want {
		t.Errorf("accounted %d bytes, want %d", r.accounted, want)
	}
	var out bytes.Buffer
	report(&out, o, []result{r})
	if !strings.Contains(out.String(), "cache.Group in-process") || !strings.Contains(out.String(), fmt.Sprintf("%d.0", 116+cache.EntryOverhead)) {
		t.Errorf("report lacks the row or the accounted bytes:\n%s", out.String())
	}
}
