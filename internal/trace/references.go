package trace

import (
	"errors"
	"fmt"

	arc "github.com/hashicorp/golang-lru/arc/v2"
	"github.com/maypok86/otter/v2"

	"github.com/distcache/distcache/server/cache"
)

// Reference is a native cache that policies are compared with.
type Reference struct {
	// Name is what a results table calls it.
	Name string
	// Replay runs a trace through a fresh cache of capacity entries and
	// counts the hits.
	Replay func(r Reader, capacity int) (hits, total int64, err error)
	// ReplaySized runs a trace with sizes through a fresh cache of
	// capacity bytes, each object weighing its size. It is nil for a cache
	// that only counts entries.
	ReplaySized func(r Sized, capacity int64) (hits, total int64, err error)
}

// References returns the native caches a policy is compared with: an exact
// LRU ([ReplayLRU]), hashicorp's ARC ([ReplayARC]) and otter, as the mean
// of [OtterRuns] runs ([ReplayOtterMean]).
// ARC counts entries, so it has no ReplaySized.
func References() []Reference {
	return []Reference{
		{Name: "lru (native, exact)", Replay: ReplayLRU, ReplaySized: ReplayLRUSized},
		{Name: "arc (hashicorp)", Replay: ReplayARC},
		{Name: "otter", Replay: ReplayOtterMean, ReplaySized: ReplayOtterSizedMean},
	}
}

// ReplayLRUSized replays r through [cache.NewLRU] with [ReplaySized].
func ReplayLRUSized(r Sized, capacity int64) (hits, total int64, err error) {
	return ReplaySized(cache.NewLRU(), r, capacity)
}

// ReplayOtterSized is [ReplayOtter] with sizes: a cache of capacity bytes
// (MaximumWeight) whose entries weigh their size (0 weighs 1, at most
// 4 GiB). Otter does not keep an entry heavier than the whole cache.
func ReplayOtterSized(r Sized, capacity int64) (hits, total int64, err error) {
	if capacity <= 0 {
		return 0, 0, errors.New("trace: otter: capacity must be >= 1")
	}
	c, err := otter.New(&otter.Options[uint64, uint32]{
		MaximumWeight: uint64(capacity),
		Weigher:       func(_ uint64, size uint32) uint32 { return size },
		Executor:      func(fn func()) { fn() },
	})
	if err != nil {
		return 0, 0, fmt.Errorf("trace: otter: %w", err)
	}
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		total++
		if _, hit := c.GetIfPresent(k); hit {
			hits++
		} else {
			c.Set(k, uint32(min(max(r.Size(), 1), 1<<32-1)))
		}
	}
	return hits, total, r.Err()
}

// ReplayLRU replays r through the cache's own exact LRU, [cache.NewLRU],
// with [Replay].
func ReplayLRU(r Reader, capacity int) (hits, total int64, err error) {
	return Replay(cache.NewLRU(), r, capacity)
}

// ReplayARC replays r through hashicorp's ARC of capacity entries
// (golang-lru/arc/v2): Get, then Add on a miss.
func ReplayARC(r Reader, capacity int) (hits, total int64, err error) {
	c, err := arc.NewARC[uint64, struct{}](capacity)
	if err != nil {
		return 0, 0, fmt.Errorf("trace: arc: %w", err)
	}
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		total++
		if _, hit := c.Get(k); hit {
			hits++
		} else {
			c.Add(k, struct{}{})
		}
	}
	return hits, total, r.Err()
}

// ReplayOtter replays r through an otter v2 cache (adaptive W-TinyLFU) of
// capacity entries: GetIfPresent, then Set on a miss. Its maintenance runs
// on the calling goroutine, so evictions happen as they would under no
// contention; its frequency sketch is seeded at random, so runs can differ
// slightly.
func ReplayOtter(r Reader, capacity int) (hits, total int64, err error) {
	if capacity <= 0 {
		return 0, 0, errors.New("trace: otter: capacity must be >= 1")
	}
	c, err := otter.New(&otter.Options[uint64, struct{}]{
		MaximumSize: capacity,
		Executor:    func(fn func()) { fn() },
	})
	if err != nil {
		return 0, 0, fmt.Errorf("trace: otter: %w", err)
	}
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		total++
		if _, hit := c.GetIfPresent(k); hit {
			hits++
		} else {
			c.Set(k, struct{}{})
		}
	}
	return hits, total, r.Err()
}

// OtterRuns is how many times [ReplayOtterMean] replays a trace. otter
// seeds its hashes at random, so one run's hit ratio varies: on the LIRS
// glimpse trace at 1,000 entries from 39% to 47%, on oltp at 500 by about
// 1.5 points. The mean of five is steadier, and a table made of it
// reproduces.
const OtterRuns = 5

// ReplayOtterMean replays r through [OtterRuns] fresh otter caches
// ([ReplayOtter]) and returns the mean of their hits, rounded.
func ReplayOtterMean(r Reader, capacity int) (hits, total int64, err error) {
	keys, err := Collect(r)
	if err != nil {
		return 0, 0, err
	}
	return meanOf(func() (int64, int64, error) { return ReplayOtter(Slice(keys), capacity) })
}

// ReplayOtterSizedMean is [ReplayOtterMean] with sizes
// ([ReplayOtterSized]).
func ReplayOtterSizedMean(r Sized, capacity int64) (hits, total int64, err error) {
	var keys []uint64
	var sizes []uint32
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		keys = append(keys, k)
		sizes = append(sizes, uint32(min(max(r.Size(), 0), 1<<32-1)))
	}
	if err := r.Err(); err != nil {
		return 0, 0, err
	}
	return meanOf(func() (int64, int64, error) { return ReplayOtterSized(SizedSlice(keys, sizes), capacity) })
}

// meanOf runs replay OtterRuns times and returns its mean hits, rounded.
func meanOf(replay func() (hits, total int64, err error)) (hits, total int64, err error) {
	var sum int64
	for range OtterRuns {
		h, t, err := replay()
		if err != nil {
			return 0, 0, err
		}
		sum, total = sum+h, t
	}
	return (sum + OtterRuns/2) / OtterRuns, total, nil
}
