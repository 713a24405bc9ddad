package evict

import "github.com/distcache/distcache/sdk/policy"

// Cache is a simulated cache of a capacity in bytes: [Residents] under
// [Rules]. It is what the replay tool and [policytest] drive a policy
// with. The zero value is not ready; use [NewCache]. Not safe for
// concurrent use.
//
// [policytest]: https://pkg.go.dev/github.com/distcache/distcache/sdk/policy/policytest
type Cache struct {
	rules        *Rules
	res          *Residents
	hits, misses uint64
}

// NewCache returns an empty cache of capacity bytes driving p; entries
// estimates how many it will hold.
func NewCache(p policy.Policy, capacity int64, entries int) *Cache {
	return &Cache{rules: New(p, capacity), res: NewResidents(entries)}
}

// Rules returns the cache's rules.
func (c *Cache) Rules() *Rules { return c.rules }

// Residents returns what the cache holds.
func (c *Cache) Residents() *Residents { return c.res }

// Hits returns the reads that hit.
func (c *Cache) Hits() uint64 { return c.hits }

// Misses returns the reads that missed.
func (c *Cache) Misses() uint64 { return c.misses }

// Get is a read through the cache: a hit records an access; a miss loads
// the entry with cost bytes and stores it, as a group does. It reports
// whether it was a hit.
func (c *Cache) Get(h uint64, cost int64) bool {
	if c.res.Contains(h) {
		c.hits++
		c.rules.Access(h)
		return true
	}
	c.misses++
	c.Set(h, cost, false)
	return false
}

// Set stores h with cost bytes, replacing a resident entry, and reports
// whether it was stored. An entry larger than the capacity is refused
// without telling the policy, as a group does. force makes it a write the
// policy may not refuse.
func (c *Cache) Set(h uint64, cost int64, force bool) bool {
	if cost > c.rules.Capacity() {
		return false
	}
	if !c.rules.Put(c.res, h, cost, force) {
		return false
	}
	c.res.Put(h, cost)
	return true
}

// Remove deletes h, as a Delete or an expiry does, and tells the policy.
func (c *Cache) Remove(h uint64) {
	if _, ok := c.res.Remove(h); ok {
		c.rules.Removed(h)
	}
}

// Flush applies the buffered events to the policy now.
func (c *Cache) Flush() { c.rules.Flush() }
