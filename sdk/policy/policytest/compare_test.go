package policytest

import (
	"math"
	"strings"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
)

func TestCompare(t *testing.T) {
	keys := Traces(20_000)[0].Keys
	newFIFO := func(int64) policy.Policy { return newFIFO() }
	for _, tc := range []struct {
		name      string
		p         func(int64) policy.Policy
		ref       Reference
		capacity  int
		tolerance float64
		wantErr   string
	}{
		{"same algorithm", newFIFO, FIFO, 100, 0, ""},
		{"another algorithm", newFIFO, LRU, 100, 0, "the reference"},
		{"within tolerance", newFIFO, LRU, 100, 0.05, ""},
		{"beyond tolerance", newFIFO, LRU, 100, 0.001, "tolerance 0.10"},
		{"protocol broken", func(int64) policy.Policy { return stubborn{} }, FIFO, 100, 0, "fallback evictions"},
		{"nil policy", func(int64) policy.Policy { return nil }, FIFO, 100, 0, "returned nil"},
		{"no capacity", newFIFO, FIFO, 0, 0, "capacity 0"},
		{"bad tolerance", newFIFO, FIFO, 100, math.NaN(), "tolerance NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want, err := CompareWithin(tc.p, tc.ref, keys, tc.capacity, tc.tolerance)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CompareWithin: %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.wantErr == "" && tc.tolerance == 0 && (got != want || got == 0) {
				t.Errorf("hits %d, reference %d", got, want)
			}
		})
	}
	if _, _, err := Compare(newFIFO, FIFO, keys, 100); err != nil {
		t.Errorf("Compare: %v", err)
	}
}
