package ring

import "time"

// Member is one node of the cluster.
type Member struct {
	// ID is the node's stable identity (--node-id); the ring hashes it.
	ID string `json:"id"`
	// Addr is the address other nodes reach it at (--advertise), as
	// host:port.
	Addr string `json:"addr"`
	// Since is when the member joined (as it registered itself).
	Since time.Time `json:"since"`
}
