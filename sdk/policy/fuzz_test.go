package policy

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// FuzzDecodeEvents: decodeEvents reads each whole 16-byte event as the ABI
// lays it out (u64 hash, u32 cost, u8 op, 3 bytes it ignores), after what
// dst holds, ignores a partial event at the end, and panics exactly when an
// op is outside [OpAccess, OpRemove].
func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(eventBytes(Event{OpAccess, 1, 0}), uint8(1))
	f.Add(eventBytes(Event{OpInsert, 1<<64 - 1, 1<<32 - 1}, Event{OpUpdate, 2, 5}, Event{OpRemove, 3, 0},
		Event{OpAccess, 4, 0}, Event{OpInsert, 5, 7}), uint8(2))
	f.Add(append(eventBytes(Event{OpAccess, 9, 0}), 1, 2, 3), uint8(0))
	f.Add(eventBytes(Event{OpAccess, 1, 0}, Event{OpAccess, 2, 0}, Event{OpAccess, 3, 0}, Event{5, 4, 0}), uint8(0))
	f.Add(eventBytes(Event{0, 1, 0}), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, prefix uint8) {
		dst := make([]Event, prefix%8)
		for i := range dst {
			dst[i] = Event{OpAccess, uint64(i), 0}
		}
		want, wantPanic := decodeModel(b)
		got, panicked := decodeSafely(dst, b)
		if wantPanic != "" {
			if panicked == "" {
				t.Fatalf("decodeEvents(%x) did not panic; want %q", b, wantPanic)
			}
			return
		}
		if panicked != "" {
			t.Fatalf("decodeEvents(%x) panicked: %s", b, panicked)
		}
		if !reflect.DeepEqual(got[:len(dst)], dst) || !reflect.DeepEqual(got[len(dst):], want) {
			t.Fatalf("decodeEvents(%v, %x) = %v, want the prefix then %v", dst, b, got, want)
		}
	})
}

// FuzzSessionUpdate: distcache_policy_update with any arguments over any
// buffer content applies exactly the events decoded, writes at most
// max_victims victims, and traps (panics) only outside the ABI's bounds.
func FuzzSessionUpdate(f *testing.F) {
	f.Add(eventBytes(Event{OpInsert, 7, 100}), int32(1), int64(50), int32(1), uint8(2))
	f.Add(eventBytes(Event{OpInsert, 7, 100}, Event{OpRemove, 7, 0}), int32(2), int64(0), int32(0), uint8(0))
	f.Add(eventBytes(Event{OpAccess, 1, 0}), int32(4), int64(1), int32(4), uint8(3))
	f.Add([]byte{}, int32(-1), int64(1), int32(1), uint8(1))
	f.Add([]byte{}, int32(0), int64(1), int32(-1), uint8(1))
	f.Add(eventBytes(Event{9, 1, 0}), int32(1), int64(0), int32(0), uint8(0))
	f.Fuzz(func(t *testing.T, buf []byte, n int32, need int64, maxVictims int32, victims uint8) {
		const maxEvents = 4
		s, rec := newTestSession(t, maxEvents)
		copy(s.buf, buf)
		for i := range victims % 8 {
			rec.victims = append(rec.victims, uint64(i)+100)
		}
		named := slices.Clone(rec.victims)
		var wantEvents []Event
		wantPanic := n < 0 || n > maxEvents || maxVictims < 0 || maxVictims > maxEvents
		if !wantPanic && n > 0 {
			var bad string
			wantEvents, bad = decodeModel(s.buf[:n*eventSize])
			wantPanic = bad != ""
		}
		k, panicked := updateSafely(s, n, need, maxVictims)
		if (panicked != "") != wantPanic {
			t.Fatalf("update(%d, %d, %d) panicked %q, want a panic %v", n, need, maxVictims, panicked, wantPanic)
		}
		if wantPanic {
			return
		}
		if len(wantEvents) > 0 && (len(rec.applied) != 1 || !reflect.DeepEqual(rec.applied[0], wantEvents)) {
			t.Fatalf("applied %v, want %v", rec.applied, wantEvents)
		}
		if len(wantEvents) == 0 && len(rec.applied) != 0 {
			t.Fatalf("applied %v with no events", rec.applied)
		}
		switch {
		case need <= 0 && k != 0:
			t.Fatalf("update with need %d returned %d victims", need, k)
		case need > 0 && k != min(maxVictims, int32(len(named))):
			t.Fatalf("update returned %d victims of %d named, max %d", k, len(named), maxVictims)
		}
		if got := readVictims(s, k); k > 0 && !reflect.DeepEqual(got, named[:k]) {
			t.Fatalf("victims %v, want %v", got, named[:k])
		}
	})
}

// eventBytes encodes events as the host writes them.
func eventBytes(events ...Event) []byte {
	b := make([]byte, len(events)*eventSize)
	for i, ev := range events {
		encodeEvent(b[i*eventSize:], ev)
	}
	return b
}

// decodeModel decodes b one event at a time; bad is set if an op is
// unknown.
func decodeModel(b []byte) (events []Event, bad string) {
	events = []Event{}
	for ; len(b) >= eventSize; b = b[eventSize:] {
		ev := Event{Op: Op(b[12]), Hash: binary.LittleEndian.Uint64(b), Cost: int64(binary.LittleEndian.Uint32(b[8:]))}
		if ev.Op < OpAccess || ev.Op > OpRemove {
			bad = ev.Op.String()
		}
		events = append(events, ev)
	}
	return events, bad
}

func decodeSafely(dst []Event, b []byte) (events []Event, panicked string) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprint(r)
		}
	}()
	return decodeEvents(dst, b), ""
}

func updateSafely(s *session, n int32, need int64, maxVictims int32) (k int32, panicked string) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprint(r)
		}
	}()
	return s.update(n, need, maxVictims), ""
}
