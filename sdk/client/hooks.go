package client

import (
	"context"
	"time"

	"github.com/distcache/distcache/sdk/client/internal/hooks"
)

// init gives the client's tests, which live in their own module, their
// way in (see package hooks). Nothing outside sdk/client can import it.
func init() {
	hooks.SetSleep = func(c any, f func(context.Context, time.Duration) error) { c.(*Client).sleep = f }
	hooks.SetRand = func(c any, f func(int64) int64) { c.(*Client).randN = f }
	hooks.SetOnHealth = func(c any, f func(string, bool)) { c.(*Client).onHealth = f }
	hooks.Ejected = func(c any, url string) bool { return c.(*Client).byURL[url].ejected.Load() }
	hooks.Probers = func(c any) int {
		cl := c.(*Client)
		cl.mu.Lock()
		defer cl.mu.Unlock()
		n := 0
		for _, e := range cl.byURL {
			if e.probing {
				n++
			}
		}
		return n
	}
	hooks.DelayCap = func(p any, n int) time.Duration { return p.(RetryPolicy).delayCap(n) }
	hooks.Delay = func(p any, n int, randN func(int64) int64) time.Duration { return p.(RetryPolicy).delay(n, randN) }
	hooks.WithDefaults = func(p any) (any, error) { return p.(RetryPolicy).withDefaults() }
}
