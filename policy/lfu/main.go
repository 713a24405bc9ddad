// Command lfu is the least-frequently-used eviction policy, with counts
// that age (halved every 10 uses per entry), as a distcache plugin. Build
// it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/lfu.wasm ./policy/lfu
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	policy.Register(func(int64) policy.Policy { return NewLFU() })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
