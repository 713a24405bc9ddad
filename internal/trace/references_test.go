package trace

import "testing"

func TestReferences(t *testing.T) {
	tests := []struct {
		name     string
		trace    func() Reader
		capacity int
		wantHits int64 // -1: only check the total
	}{
		{"all fit", func() Reader { return Loop(10000, 100) }, 100, 10000 - 100},
		{"skewed", func() Reader { return Zipf(20000, 1000, 1, 9) }, 100, -1},
	}
	for _, ref := range References() {
		for _, tt := range tests {
			t.Run(ref.Name+"/"+tt.name, func(t *testing.T) {
				hits, total, err := ref.Replay(tt.trace(), tt.capacity)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := Collect(tt.trace())
				if total != int64(len(n)) || hits > total || (tt.wantHits >= 0 && hits != tt.wantHits) {
					t.Errorf("hits, total = %d, %d; want %d, %d", hits, total, tt.wantHits, len(n))
				}
				if tt.wantHits < 0 && hits == 0 {
					t.Error("no hits on a skewed trace")
				}
			})
		}
		t.Run(ref.Name+"/capacity 0", func(t *testing.T) {
			if _, _, err := ref.Replay(Loop(10, 5), 0); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestOtterMean: the mean of otter's runs, on a trace every run answers
// alike (a loop that fits), is that answer, over the whole trace.
func TestOtterMean(t *testing.T) {
	hits, total, err := ReplayOtterMean(Loop(10_000, 100), 1000)
	if err != nil || hits != 10_000-100 || total != 10_000 {
		t.Fatalf("ReplayOtterMean = %d hits of %d, %v; want %d of 10000", hits, total, err, 10_000-100)
	}
	keys := []uint64{1, 2, 1, 3, 1}
	sizes := []uint32{10, 10, 10, 10, 10}
	hits, total, err = ReplayOtterSizedMean(SizedSlice(keys, sizes), 100)
	if err != nil || hits != 2 || total != 5 {
		t.Fatalf("ReplayOtterSizedMean = %d hits of %d, %v; want 2 of 5", hits, total, err)
	}
}
