package trace

import (
	"math"
	"slices"
	"testing"
)

func TestZipfDeterministic(t *testing.T) {
	a, err := Collect(Zipf(5000, 1000, 0.99, 7))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Collect(Zipf(5000, 1000, 0.99, 7))
	c, _ := Collect(Zipf(5000, 1000, 0.99, 8))
	if len(a) != 5000 {
		t.Fatalf("got %d keys, want 5000", len(a))
	}
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different traces")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same trace")
	}
}

func TestZipfShape(t *testing.T) {
	tests := []struct {
		name string
		keys uint64
		s    float64
	}{
		{"s=0.8", 1000, 0.8},
		{"s=1", 1000, 1},
		{"s=1.2", 100, 1.2},
		{"uniform", 10, 0},
	}
	const n = 200000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := make([]float64, tt.keys)
			r := Zipf(n, tt.keys, tt.s, 1)
			for k, ok := r.Next(); ok; k, ok = r.Next() {
				if k >= tt.keys {
					t.Fatalf("key %d out of range", k)
				}
				counts[k]++
			}
			var norm float64
			for k := range tt.keys {
				norm += math.Pow(float64(k+1), -tt.s)
			}
			for _, k := range []uint64{0, 1, 4} {
				want := n * math.Pow(float64(k+1), -tt.s) / norm
				if math.Abs(counts[k]-want) > 5*math.Sqrt(want) {
					t.Errorf("key %d drawn %v times, want about %.0f", k, counts[k], want)
				}
			}
		})
	}
}

func TestSynthBadArgs(t *testing.T) {
	tests := []struct {
		name string
		r    Reader
	}{
		{"zipf no keys", Zipf(10, 0, 1, 1)},
		{"zipf too many keys", Zipf(10, MaxZipfKeys+1, 1, 1)},
		{"zipf negative s", Zipf(10, 10, -1, 1)},
		{"zipf NaN s", Zipf(10, 10, math.NaN(), 1)},
		{"loop zero length", Loop(10, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Collect(tt.r); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestLoop(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		length uint64
		want   []uint64
	}{
		{"wraps", 7, 3, []uint64{0, 1, 2, 0, 1, 2, 0}},
		{"short", 2, 5, []uint64{0, 1}},
		{"length 1", 3, 1, []uint64{0, 0, 0}},
		{"none", 0, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Collect(Loop(tt.n, tt.length))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
