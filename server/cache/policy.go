package cache

// Op is the kind of a policy [Event].
type Op uint8

// The policy events. The values are part of the plugin ABI: do not renumber.
const (
	// OpAccess: a resident entry was read. Cost is zero.
	OpAccess Op = 1
	// OpInsert: an entry was added with Cost bytes.
	OpInsert Op = 2
	// OpUpdate: a resident entry's value was replaced; Cost is its new size.
	OpUpdate Op = 3
	// OpRemove: an entry was deleted, expired or purged (not evicted by the
	// policy's own choice).
	OpRemove Op = 4
)

// Event is one thing that happened to an entry, named by its 64-bit key
// hash.
type Event struct {
	Op   Op
	Hash uint64
	Cost int64
}

// Policy decides which entries to evict. The group calls it under its
// policy lock, so an implementation need not be safe for concurrent use.
//
// Victims are advice: the group ignores hashes it does not hold, and when a
// policy names too few it evicts others itself, so a group never exceeds its
// capacity whatever the policy does.
type Policy interface {
	// Apply records a batch of events, oldest first. The group owns events;
	// the policy must not keep the slice.
	Apply(events []Event)
	// Evict names entries to evict so that at least need bytes are freed,
	// appending their hashes to dst and returning it. The policy forgets the
	// entries it names.
	Evict(need int64, dst []uint64) []uint64
}

// PolicyName is implemented by policies that can say what they are, for
// stats.
type PolicyName interface {
	Name() string
}
