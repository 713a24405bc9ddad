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
// LRU ([ReplayLRU]), hashicorp's ARC ([ReplayARC]) and otter ([ReplayOtter]).
// ARC counts entries, so it has no ReplaySized.
func References() []Reference {
	return []Reference{
		{Name: "lru (native, exact)", Replay: ReplayLRU, ReplaySized: ReplayLRUSized},
		{Name: "arc (hashicorp)", Replay: ReplayARC},
		{Name: "otter", Replay: ReplayOtter, ReplaySized: ReplayOtterSized},
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
