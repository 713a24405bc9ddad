package cache

import "github.com/distcache/distcache/sdk/policy"

// Op is the kind of a policy [Event]. It is the plugin ABI's op, defined
// once in the guest SDK ([policy.Op]), so host and guest cannot disagree.
type Op = policy.Op

// The policy events, the ABI's op codes.
const (
	// OpAccess: a resident entry was read. Cost is zero.
	OpAccess = policy.OpAccess
	// OpInsert: an entry was added with Cost bytes.
	OpInsert = policy.OpInsert
	// OpUpdate: a resident entry's value was replaced; Cost is its new size.
	OpUpdate = policy.OpUpdate
	// OpRemove: an entry was deleted, expired or purged (not evicted by the
	// policy's own choice).
	OpRemove = policy.OpRemove
)

// Event is one thing that happened to an entry, named by its 64-bit key
// hash: the guest SDK's [policy.Event].
type Event = policy.Event

// Policy decides which entries to evict: the guest SDK's [policy.Policy],
// which native policies and plugin instances both implement. The group
// calls it under its policy lock, following the host's rules
// ([evict.Rules]), so an implementation need not be safe for concurrent
// use.
//
// Victims are advice: the group ignores hashes it does not hold, and when a
// policy names too few it evicts others itself, so a group never exceeds its
// capacity whatever the policy does.
//
// [evict.Rules]: https://pkg.go.dev/github.com/distcache/distcache/sdk/policy/evict#Rules
type Policy = policy.Policy

// PolicyName is implemented by policies that can say what they are, for
// stats.
type PolicyName interface {
	Name() string
}
