// Command s3fifo is the S3-FIFO eviction policy (Yang et al., SOSP 2023)
// as a distcache plugin. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/s3fifo.wasm ./policy/s3fifo
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	// S3-FIFO evicts before it inserts; EvictFirst hides the newcomer from
	// the Evict that makes room for it, as the algorithm expects.
	policy.Register(func(capacity int64) policy.Policy { return policy.EvictFirst(NewS3FIFO(capacity)) })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
