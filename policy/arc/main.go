// Command arc is the Adaptive Replacement Cache eviction policy (Megiddo
// and Modha, 2003) as a distcache plugin. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/arc.wasm ./policy/arc
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	policy.Register(func(capacity int64) policy.Policy { return NewARC(capacity) })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
