// Command lru is the exact least-recently-used eviction policy as a
// distcache plugin. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/lru.wasm ./policy/lru
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	policy.Register(func(int64) policy.Policy { return NewLRU() })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
