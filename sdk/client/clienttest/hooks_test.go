package clienttest

import (
	"context"
	"time"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/sdk/client/internal/hooks"
)

// The client's test hooks (see package hooks), typed.

func setSleep(c *client.Client, f func(context.Context, time.Duration) error) { hooks.SetSleep(c, f) }
func setRand(c *client.Client, f func(int64) int64)                           { hooks.SetRand(c, f) }
func setOnHealth(c *client.Client, f func(url string, ejected bool))          { hooks.SetOnHealth(c, f) }
func ejected(c *client.Client, url string) bool                               { return hooks.Ejected(c, url) }
func probers(c *client.Client) int                                            { return hooks.Probers(c) }
func delayCap(p client.RetryPolicy, n int) time.Duration                      { return hooks.DelayCap(p, n) }
func delay(p client.RetryPolicy, n int, randN func(int64) int64) time.Duration {
	return hooks.Delay(p, n, randN)
}

func withDefaults(p client.RetryPolicy) (client.RetryPolicy, error) {
	r, err := hooks.WithDefaults(p)
	return r.(client.RetryPolicy), err
}
