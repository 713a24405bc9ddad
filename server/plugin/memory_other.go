//go:build !linux

package plugin

import "github.com/tetratelabs/wazero/experimental"

// mappingPool has no mappings outside Linux: instances use sliceMemory.
type mappingPool struct{}

func (*mappingPool) get(uint64) experimental.LinearMemory { return nil }
func (*mappingPool) release()                             {}
