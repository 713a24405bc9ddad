package loader

import (
	"errors"
	"time"
)

// Request is one load: the group, the key, and the loader's `settings:`
// from the groups file (nil if it has none). Settings is decoded once and
// shared by every call with the same settings: read it, do not modify it.
type Request struct {
	Group, Key string
	Settings   map[string]string
}

// Response is a loaded value. The host copies Value. TTL overrides the
// group's ttl for this entry; 0 keeps the group's, and it is rounded up to
// whole milliseconds.
type Response struct {
	Value []byte
	TTL   time.Duration
}

// ErrNotFound is what a [Loader] returns, or wraps, when the key does not
// exist: the node answers not-found (and may cache that negatively)
// instead of an error.
var ErrNotFound = errors.New("not found")

// Loader loads values on a miss. Return [ErrNotFound] (or an error wrapping
// it) when the key does not exist; any other error fails the load with its
// message. A panic is recovered and fails the load too. Calls on one
// instance never overlap.
type Loader interface {
	Load(req Request) (Response, error)
}

// LoaderFunc adapts a function to a [Loader].
type LoaderFunc func(Request) (Response, error)

// Load calls f(req).
func (f LoaderFunc) Load(req Request) (Response, error) { return f(req) }

// Configurer is implemented by a [Loader] that prepares for its settings
// once rather than on every call (to check them and build a query, say).
// The SDK calls Configure before the first Load, and again whenever a
// call's settings differ from the previous call's. If it returns an error
// (or panics), every load with those settings fails with that error
// without calling Load. settings is nil if there are none, and is the
// map later requests carry: do not modify it.
type Configurer interface {
	Configure(settings map[string]string) error
}

// registered is the module's loader and what it kept from earlier calls.
// It is the one package variable the export glue needs: the host calls
// distcache_loader_load with no other way to reach the plugin's code.
var registered instance

// Register makes l the module's loader. Call it from an init func of
// package main. A later call replaces an earlier one; nil unregisters.
func Register(l Loader) { registered = instance{l: l} }
