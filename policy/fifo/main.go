// Command fifo is the first-in, first-out eviction policy as a distcache
// plugin. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/fifo.wasm ./policy/fifo
package main

import "github.com/distcache/distcache/sdk/policy"

func init() {
	policy.Register(func(int64) policy.Policy { return NewFIFO() })
}

// main is required by -buildmode=c-shared; it never runs.
func main() {}
