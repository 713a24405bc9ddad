// Package cluster is a node's view of the cluster: the consistent-hash
// ring over the current members and the [Picker] that tells the cache's
// groups who owns and who replicates a key. Membership (who is in) lives in
// server/membership and the node-to-node protocol in server/peer.
package cluster

import "github.com/distcache/distcache/sdk/client/ring"

// Member is one node of the cluster; see [ring.Member].
type Member = ring.Member

// Ring maps keys to members; see [ring.Ring].
type Ring = ring.Ring

// DefaultReplicas is the ring's virtual nodes per member.
const DefaultReplicas = ring.DefaultReplicas

// NewRing builds a ring; see [ring.NewRing].
func NewRing(members []Member, replicas int) *Ring { return ring.NewRing(members, replicas) }

// KeyHash is the hash the ring places a key by; see [ring.KeyHash].
func KeyHash(key string) uint64 { return ring.KeyHash(key) }
