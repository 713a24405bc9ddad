package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for expiring entries without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newGroup(t testing.TB, cfg Config, opts ...Option) *Group {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 1 << 20
	}
	g, err := NewGroup(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func mustGet(t testing.TB, g *Group, key string) Value {
	t.Helper()
	v, err := g.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func mustSet(t testing.TB, g *Group, key, value string) {
	t.Helper()
	if err := g.Set(context.Background(), key, []byte(value), GroupTTL); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func wantNotFound(t testing.TB, g *Group, key string) {
	t.Helper()
	if _, err := g.Get(context.Background(), key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
}

// mapSource is a real in-memory source: a loader and writer over a map.
type mapSource struct {
	mu    sync.Mutex
	m     map[string]string
	loads int
	fail  error
}

func (s *mapSource) Load(_ context.Context, key string) (Loaded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.fail != nil {
		return Loaded{}, s.fail
	}
	v, ok := s.m[key]
	if !ok {
		return Loaded{}, ErrNotFound
	}
	return Loaded{Value: []byte(v)}, nil
}

func (s *mapSource) Write(_ context.Context, key string, value []byte, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[key] = string(value)
	return nil
}

func (s *mapSource) Remove(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.m, key)
	return nil
}

func (s *mapSource) Loads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}
