// Package cache holds a node's groups: the sharded, byte-accounted store,
// TTLs, negative caching, single-flight loads and stats.
//
// It knows nothing of networks or WebAssembly. It talks to a group's
// backing source through [Loader] and [Writer], and to its eviction policy
// through [Policy]. A hit never blocks on the policy: accesses are recorded
// into lossy striped buffers and applied to the policy in batches under the
// group's policy lock, together with the lossless write events (the
// Caffeine/ristretto design). Every entry's size — key, value and
// [EntryOverhead] — counts against the group's capacity, which the store
// never exceeds, even when a policy names no or wrong victims.
//
// There is no package-level state: a [Group] owns everything it uses, so
// several nodes can live in one process.
package cache
