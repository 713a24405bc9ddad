// Command sieve is the SIEVE eviction policy (Zhang et al., NSDI 2024) as
// a distcache plugin. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/sieve.wasm ./policy/sieve
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	// SIEVE evicts before it inserts; EvictFirst hides the newcomer from
	// the Evict that makes room for it, as the algorithm expects.
	policy.Register(func(int64) policy.Policy { return policy.EvictFirst(NewSIEVE()) })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
