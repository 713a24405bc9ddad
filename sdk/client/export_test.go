package client

import (
	"context"
	"time"
)

// Test hooks, compiled only into this package's tests.

// DelayCap and Delay expose the back-off of retry n.
func (p RetryPolicy) DelayCap(n int) time.Duration { return p.delayCap(n) }

// Delay draws the delay of retry n with randN.
func (p RetryPolicy) Delay(n int, randN func(int64) int64) time.Duration {
	return p.delay(n, randN)
}

// WithDefaults is withDefaults.
func (p RetryPolicy) WithDefaults() (RetryPolicy, error) { return p.withDefaults() }

// SetSleep replaces the client's sleep between attempts.
func (c *Client) SetSleep(f func(context.Context, time.Duration) error) { c.sleep = f }

// SetRand replaces the client's random source of jitter.
func (c *Client) SetRand(f func(int64) int64) { c.randN = f }

// SetOnHealth makes c tell f of every ejection (ejected true) and
// readmission of an endpoint; f must not block for long.
func (c *Client) SetOnHealth(f func(url string, ejected bool)) { c.onHealth = f }

// Ejected reports whether the endpoint at url, one given to New, is
// ejected.
func (c *Client) Ejected(url string) bool { return c.byURL[url].ejected.Load() }

// Probers returns how many of the endpoints given to New have a prober
// running.
func (c *Client) Probers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.byURL {
		if e.probing {
			n++
		}
	}
	return n
}
