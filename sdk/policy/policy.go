package policy

import "strconv"

// Op is the kind of an [Event]. Its values are those of the ABI.
type Op uint8

// The events a host sends. The values are part of the ABI.
const (
	// OpAccess: a resident entry was read. Cost is zero. An unknown hash is
	// to be ignored. The host may drop accesses under load.
	OpAccess Op = 1
	// OpInsert: an entry is being added with Cost bytes. The host sends it
	// before it asks for room. An insert of a known hash is an update.
	OpInsert Op = 2
	// OpUpdate: a resident entry's value was replaced; Cost is its new size.
	// An update of an unknown hash is an insert.
	OpUpdate Op = 3
	// OpRemove: the entry was deleted, expired or purged, not evicted by the
	// policy's own choice. An unknown hash is to be ignored.
	OpRemove Op = 4
)

// String returns the op's name, as in the ABI.
func (o Op) String() string {
	switch o {
	case OpAccess:
		return "access"
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpRemove:
		return "remove"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Event is one thing that happened to an entry, named by its 64-bit key
// hash. Cost is in bytes and at most 2³²−1.
type Event struct {
	Op   Op
	Hash uint64
	Cost int64
}

// Policy decides which entries a group evicts. It mirrors the host's
// cache.Policy. An instance serves one group and is never called
// concurrently, so it need not lock.
type Policy interface {
	// Apply records events, oldest first. The caller owns events and reuses
	// the slice: the policy must not keep it.
	Apply(events []Event)
	// Evict names entries whose costs add up to at least need bytes,
	// appending their hashes to dst and returning it. It forgets them: the
	// host sends no remove for victims the policy named. It may name the
	// entry of the latest insert, which the host then does not admit.
	Evict(need int64, dst []uint64) []uint64
}

// factory is the registered policy constructor. It is the one package
// variable the export glue needs: the host calls distcache_policy_init
// with no other way to reach the plugin's code.
var factory func(capacity int64) Policy

// Register makes newPolicy the module's policy. Call it from an init func
// of package main. The host calls newPolicy once per instance with the
// group's capacity in bytes. A later call replaces an earlier one; nil
// unregisters.
func Register(newPolicy func(capacity int64) Policy) { factory = newPolicy }

// New returns a policy made by the registered constructor for a group of
// capacity bytes, or nil if [Register] has not been called. It lets native
// tests drive the policy a package main registers.
func New(capacity int64) Policy {
	if factory == nil {
		return nil
	}
	return factory(capacity)
}
