package ring

import (
	"fmt"
	"time"
)

// HashVersion names how this package places keys and points (64-bit
// xxHash of the key, and of ID + "#" + i for a member's points). It
// changes if placement ever does, so nodes that would disagree on owners
// can tell.
const HashVersion = 1

// Member is one node of the cluster.
type Member struct {
	// ID is the node's stable identity (--node-id); the ring hashes it.
	ID string `json:"id"`
	// Addr is the address other nodes reach it at (--advertise), as
	// host:port.
	Addr string `json:"addr"`
	// Since is when the member joined (as it registered itself).
	Since time.Time `json:"since"`
	// VNodes and Hash are the ring parameters the member places keys
	// with: its virtual nodes per member and [HashVersion]. Zero means
	// unknown (a record from before they were published).
	VNodes int `json:"vnodes,omitempty"`
	Hash   int `json:"hash,omitempty"`
}

// Compatible returns an error naming the difference when m places keys
// with other ring parameters than self: the two would disagree on owners.
// Unknown parameters are taken as compatible.
func (m Member) Compatible(self Member) error {
	switch {
	case m.VNodes != 0 && self.VNodes != 0 && m.VNodes != self.VNodes:
		return fmt.Errorf("member %s uses %d virtual nodes per member, this node %d (--replicas must match on every node)", m.ID, m.VNodes, self.VNodes)
	case m.Hash != 0 && self.Hash != 0 && m.Hash != self.Hash:
		return fmt.Errorf("member %s places keys with hash version %d, this node with %d", m.ID, m.Hash, self.Hash)
	}
	return nil
}
