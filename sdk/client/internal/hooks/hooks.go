// Package hooks lets the client's own tests reach inside a Client. They
// live in a module of their own (sdk/client/clienttest), because they run
// real nodes and the client's module must not depend on the node's; so
// package client sets these functions when it is initialized, and only
// code under sdk/client can import this package.
package hooks

import (
	"context"
	"time"
)

// Set by package client; the arguments named c are a *client.Client and
// those named p a client.RetryPolicy.
var (
	// SetSleep replaces c's sleep between attempts.
	SetSleep func(c any, f func(context.Context, time.Duration) error)
	// SetRand replaces c's random source of jitter.
	SetRand func(c any, f func(int64) int64)
	// SetOnHealth makes c tell f of every ejection and readmission.
	SetOnHealth func(c any, f func(url string, ejected bool))
	// Ejected reports whether c's endpoint at url is ejected.
	Ejected func(c any, url string) bool
	// Probers returns how many of c's endpoints have a prober running.
	Probers func(c any) int
	// DelayCap is the back-off cap of retry n of p.
	DelayCap func(p any, n int) time.Duration
	// Delay draws the delay of retry n of p with randN.
	Delay func(p any, n int, randN func(int64) int64) time.Duration
	// WithDefaults is p with its defaults filled in, or p's error.
	WithDefaults func(p any) (any, error)
)
