// Command wtinylfu is the W-TinyLFU eviction policy (Einziger, Friedman
// and Manes, 2017) with Caffeine's adaptive window, as a distcache plugin.
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/wtinylfu.wasm ./policy/wtinylfu
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	policy.Register(func(capacity int64) policy.Policy { return New(capacity) })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
