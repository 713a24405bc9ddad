package policy

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// abiVersion is the plugin ABI version this SDK speaks.
const abiVersion = 1

// eventSize is the size of one event in the shared buffer.
const eventSize = 16

// session is one instance's state behind the exports: the buffer shared
// with the host, the policy, and slices reused across calls. It holds no
// wasm specifics, so it is tested natively.
type session struct {
	buf      []byte
	policy   Policy
	events   []Event
	victims  []uint64
	overflow []uint64 // victims named beyond a call's max_victims, reported next
}

// newSession returns a session with a buffer for maxEvents events, or nil
// if maxEvents is not positive or no policy is registered.
func newSession(capacity int64, maxEvents int32) *session {
	if maxEvents <= 0 {
		return nil
	}
	p := New(capacity)
	if p == nil {
		return nil
	}
	return &session{
		buf:    make([]byte, int(maxEvents)*eventSize),
		policy: p,
		events: make([]Event, 0, maxEvents),
	}
}

// maxEvents returns how many events the buffer holds.
func (s *session) maxEvents() int32 { return int32(len(s.buf) / eventSize) }

// update is distcache_policy_update: apply n events from the buffer, then
// if need > 0 write up to maxVictims victims at the buffer's start and
// return how many. A call outside the ABI's bounds panics, which traps the
// instance and makes the host log and replace it.
func (s *session) update(n int32, need int64, maxVictims int32) int32 {
	if n < 0 || n > s.maxEvents() {
		panic("distcache_policy_update: " + strconv.Itoa(int(n)) + " events, the buffer holds " + strconv.Itoa(int(s.maxEvents())))
	}
	if maxVictims < 0 || maxVictims > s.maxEvents() {
		panic("distcache_policy_update: max_victims " + strconv.Itoa(int(maxVictims)) + " is outside [0, " + strconv.Itoa(int(s.maxEvents())) + "]")
	}
	if n > 0 {
		s.events = decodeEvents(s.events[:0], s.buf[:int(n)*eventSize])
		s.dropOverflow(s.events)
		s.policy.Apply(s.events)
	}
	if need <= 0 {
		return 0
	}
	if len(s.overflow) > 0 {
		k := writeVictims(s.buf, s.overflow, int(maxVictims))
		s.overflow = s.overflow[:copy(s.overflow, s.overflow[k:])]
		return int32(k)
	}
	s.victims = s.policy.Evict(need, s.victims[:0])
	k := writeVictims(s.buf, s.victims, int(maxVictims))
	s.overflow = append(s.overflow, s.victims[k:]...)
	return int32(k)
}

// writeVictims writes up to max hashes of victims at b's start and returns
// how many it wrote.
func writeVictims(b []byte, victims []uint64, max int) int {
	k := min(max, len(victims))
	for i, h := range victims[:k] {
		binary.LittleEndian.PutUint64(b[i*8:], h)
	}
	return k
}

// dropOverflow forgets overflowing victims that events show the host has
// dealt with: a victim that was removed, or inserted again, is no longer
// one to report.
func (s *session) dropOverflow(events []Event) {
	if len(s.overflow) == 0 {
		return
	}
	for _, ev := range events {
		if ev.Op == OpAccess {
			continue
		}
		for i, h := range s.overflow {
			if h == ev.Hash {
				s.overflow = append(s.overflow[:i], s.overflow[i+1:]...)
				break
			}
		}
	}
}

// decodeEvents appends the events encoded in b to dst, per the ABI: u64
// hash, u32 cost, u8 op, 3 zero bytes, little-endian. An unknown op panics.
//
// It decodes four events per iteration and checks their ops together:
// in WebAssembly run with interruption enabled, each loop iteration and
// taken branch costs a check that leaves the guest, so this saves three
// of every four.
func decodeEvents(dst []Event, b []byte) []Event {
	n := len(b) / eventSize
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	var bad uint8 // nonzero if an op is outside [OpAccess, OpRemove]
	i := 0
	for ; i+4 <= len(out); i += 4 {
		// Written out: a helper would cost more than the inliner allows.
		e := b[i*eventSize : (i+4)*eventSize]
		o := out[i : i+4]
		o[0] = Event{Op: Op(e[12]), Hash: le.Uint64(e[0:]), Cost: int64(le.Uint32(e[8:]))}
		o[1] = Event{Op: Op(e[28]), Hash: le.Uint64(e[16:]), Cost: int64(le.Uint32(e[24:]))}
		o[2] = Event{Op: Op(e[44]), Hash: le.Uint64(e[32:]), Cost: int64(le.Uint32(e[40:]))}
		o[3] = Event{Op: Op(e[60]), Hash: le.Uint64(e[48:]), Cost: int64(le.Uint32(e[56:]))}
		bad |= (e[12]-1)&^3 | (e[28]-1)&^3 | (e[44]-1)&^3 | (e[60]-1)&^3
	}
	for ; i < len(out); i++ {
		e := b[i*eventSize : (i+1)*eventSize]
		out[i] = Event{Op: Op(e[12]), Hash: le.Uint64(e[0:]), Cost: int64(le.Uint32(e[8:]))}
		bad |= (e[12] - 1) &^ 3
	}
	if bad != 0 {
		for _, ev := range out {
			if ev.Op < OpAccess || ev.Op > OpRemove {
				panic("distcache_policy_update: unknown event op " + strconv.Itoa(int(ev.Op)))
			}
		}
	}
	return dst[:len(dst)+n]
}

// le is the ABI's byte order.
var le = binary.LittleEndian
