// Command mypolicy is a CLOCK eviction policy for distcache, built in a
// module of its own. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mypolicy.wasm .
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	// The host calls this once per instance (one per group) with the
	// group's capacity in bytes. CLOCK needs no size: the host asks for room.
	policy.Register(func(capacity int64) policy.Policy { return &Clock{} })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
