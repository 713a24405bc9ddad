package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by a [Loader] whose source does not have a key,
// and by [Group.Get] for such a key. Loaders may wrap it; the cache checks
// it with [errors.Is].
var ErrNotFound = errors.New("key not found")

// Loaded is what a [Loader] returns for a key its source has.
type Loaded struct {
	// Value is the key's value. The cache takes ownership of it: the loader
	// must not modify it after returning.
	Value []byte
	// TTL, when positive, overrides the group's ttl for this entry. Zero
	// means the group's ttl.
	TTL time.Duration
}

// Loader loads a key from a group's backing source on a miss. It is called
// at most once at a time per key and group on a node (single-flight), with
// a context that carries the caller's trace and the group's load deadline.
// A key the source does not have is reported as an error wrapping
// [ErrNotFound]. Implementations must be safe for concurrent use.
type Loader interface {
	Load(ctx context.Context, key string) (Loaded, error)
}

// LoaderFunc adapts a function to the [Loader] interface.
type LoaderFunc func(ctx context.Context, key string) (Loaded, error)

// Load calls f(ctx, key).
func (f LoaderFunc) Load(ctx context.Context, key string) (Loaded, error) { return f(ctx, key) }

// NoLoader is the [Loader] of a group without a source: every key is
// not found, so the group holds only what is Set.
var NoLoader Loader = LoaderFunc(func(context.Context, string) (Loaded, error) {
	return Loaded{}, ErrNotFound
})

// Writer is the write side of a write-through group's source: [Group.Set]
// and [Group.Delete] call it before changing the cache, and change nothing
// if it fails. Implementations must be safe for concurrent use.
type Writer interface {
	// Write stores value under key in the source, to expire at expires
	// (never when zero): a source that keeps the expiry must not return
	// the value after it, so a TTL given to a Set holds after the cached
	// copy is gone.
	Write(ctx context.Context, key string, value []byte, expires time.Time) error
	// Remove deletes key from the source. Removing a missing key is not an
	// error.
	Remove(ctx context.Context, key string) error
}

// LoadError is returned by [Group.Get] when the group's loader failed
// (other than with [ErrNotFound]). The value is never served as empty.
type LoadError struct {
	Group string
	Key   string
	Err   error
}

// Error implements error.
func (e *LoadError) Error() string {
	return fmt.Sprintf("group %q: loading key %q: %v", e.Group, e.Key, e.Err)
}

// Unwrap returns the loader's error.
func (e *LoadError) Unwrap() error { return e.Err }

// WriteError is returned by [Group.Set] and [Group.Delete] when a
// write-through group's source refused the change; the cache is unchanged.
type WriteError struct {
	Group string
	Key   string
	Err   error
}

// Error implements error.
func (e *WriteError) Error() string {
	return fmt.Sprintf("group %q: writing key %q to source: %v", e.Group, e.Key, e.Err)
}

// Unwrap returns the source's error.
func (e *WriteError) Unwrap() error { return e.Err }
