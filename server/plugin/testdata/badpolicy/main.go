// Command badpolicy is a FIFO policy that misbehaves on purpose once it
// has seen a trigger: an insert of cost 666 makes its next update panic,
// and cost 777 makes its next update loop forever. Cost 555 makes it
// print to stderr as a panic would, a few bytes a write, and go on.
package main

import (
	"encoding/binary"
	"unsafe"
)

var (
	buf   []byte
	queue []uint64
	mode  uint32
)

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport distcache_policy_init
func policyInit(capacity int64, maxEvents int32) int32 {
	buf = make([]byte, int(maxEvents)*16)
	return int32(uintptr(unsafe.Pointer(&buf[0])))
}

//go:wasmexport distcache_policy_update
func policyUpdate(n int32, need int64, maxVictims int32) int32 {
	switch mode {
	case 666:
		panic("badpolicy: trap on purpose")
	case 777:
		for {
			mode++
		}
	case 555:
		mode = 0
		println("badpolicy: saw", 555)
		println("panic: not really, badpolicy goes on")
		println("badpolicy: still here")
	}
	for i := range int(n) {
		ev := buf[i*16:]
		h, cost, op := binary.LittleEndian.Uint64(ev), binary.LittleEndian.Uint32(ev[8:]), ev[12]
		if cost == 555 || cost == 666 || cost == 777 {
			mode = cost
		}
		if op == 2 {
			queue = append(queue, h)
		}
	}
	k := 0
	for need > 0 && len(queue) > 0 && k < int(maxVictims) {
		binary.LittleEndian.PutUint64(buf[k*8:], queue[0])
		queue = queue[1:]
		need -= 100 // a rough guess is fine: the host asks again
		k++
	}
	return int32(k)
}

func main() {}
