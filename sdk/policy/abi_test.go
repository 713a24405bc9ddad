package policy

import (
	"encoding/binary"
	"slices"
	"testing"
)

// recorder is a Policy that records what it is told and names the victims
// it is given.
type recorder struct {
	applied [][]Event
	needs   []int64
	victims []uint64
}

func (r *recorder) Apply(events []Event) { r.applied = append(r.applied, slices.Clone(events)) }

func (r *recorder) Evict(need int64, dst []uint64) []uint64 {
	r.needs = append(r.needs, need)
	dst = append(dst, r.victims...)
	r.victims = nil
	return dst
}

// encodeEvent writes ev into b as the host does.
func encodeEvent(b []byte, ev Event) {
	binary.LittleEndian.PutUint64(b, ev.Hash)
	binary.LittleEndian.PutUint32(b[8:], uint32(ev.Cost))
	b[12] = byte(ev.Op)
}

// newTestSession registers a recorder and returns a session over it.
func newTestSession(t *testing.T, maxEvents int32) (*session, *recorder) {
	t.Helper()
	rec := &recorder{}
	Register(func(int64) Policy { return rec })
	t.Cleanup(func() { Register(nil) })
	s := newSession(1<<20, maxEvents)
	if s == nil {
		t.Fatal("newSession returned nil")
	}
	return s, rec
}

func readVictims(s *session, n int32) []uint64 {
	var out []uint64
	for i := range int(n) {
		out = append(out, binary.LittleEndian.Uint64(s.buf[i*8:]))
	}
	return out
}

func TestSessionInit(t *testing.T) {
	Register(nil)
	if s := newSession(100, 1024); s != nil {
		t.Error("a session with nothing registered")
	}
	s, _ := newTestSession(t, 1024)
	if len(s.buf) != 1024*eventSize {
		t.Errorf("buffer of %d bytes, want %d", len(s.buf), 1024*eventSize)
	}
	if s := newSession(100, 0); s != nil {
		t.Error("a session for max_events 0")
	}
}

func TestSessionUpdate(t *testing.T) {
	events := []Event{
		{Op: OpInsert, Hash: 1 << 63, Cost: 1<<32 - 1},
		{Op: OpAccess, Hash: 2},
		{Op: OpUpdate, Hash: 3, Cost: 64},
		{Op: OpRemove, Hash: 4},
	}
	for _, tc := range []struct {
		name        string
		n           int
		need        int64
		maxVictims  int32
		victims     []uint64
		wantVictims []uint64
		wantNeeds   []int64
	}{
		{"events only", 4, 0, 16, []uint64{9}, nil, nil},
		{"negative need", 4, -5, 16, []uint64{9}, nil, nil},
		{"evict", 4, 100, 16, []uint64{9, 8}, []uint64{9, 8}, []int64{100}},
		{"evict without events", 0, 7, 16, []uint64{5}, []uint64{5}, []int64{7}},
		{"victims capped", 1, 7, 2, []uint64{5, 6, 7}, []uint64{5, 6}, []int64{7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := newTestSession(t, 16)
			for i, ev := range events[:tc.n] {
				encodeEvent(s.buf[i*eventSize:], ev)
			}
			rec.victims = tc.victims
			n := s.update(int32(tc.n), tc.need, tc.maxVictims)
			if got := readVictims(s, n); !slices.Equal(got, tc.wantVictims) {
				t.Errorf("victims %v, want %v", got, tc.wantVictims)
			}
			if !slices.Equal(rec.needs, tc.wantNeeds) {
				t.Errorf("Evict asked for %v, want %v", rec.needs, tc.wantNeeds)
			}
			var want [][]Event
			if tc.n > 0 {
				want = [][]Event{events[:tc.n]}
			}
			if !slices.EqualFunc(rec.applied, want, slices.Equal) {
				t.Errorf("applied %v, want %v", rec.applied, want)
			}
		})
	}
}

// TestSessionOverflow: victims past max_victims are reported by the next
// calls that need room, unless the host dealt with them meanwhile.
func TestSessionOverflow(t *testing.T) {
	s, rec := newTestSession(t, 16)
	rec.victims = []uint64{1, 2, 3, 4, 5}
	if got := readVictims(s, s.update(0, 10, 2)); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("first call: victims %v", got)
	}
	encodeEvent(s.buf, Event{Op: OpRemove, Hash: 3})
	encodeEvent(s.buf[eventSize:], Event{Op: OpAccess, Hash: 4})
	if got := readVictims(s, s.update(2, 10, 2)); !slices.Equal(got, []uint64{4, 5}) {
		t.Fatalf("second call: victims %v, want [4 5]", got)
	}
	if len(rec.needs) != 1 {
		t.Errorf("Evict called %d times, want once", len(rec.needs))
	}
	rec.victims = []uint64{6}
	if got := readVictims(s, s.update(0, 10, 2)); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("third call: victims %v, want [6]", got)
	}
}

func TestSessionPanicsOutsideABI(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int32
		maxVictims int32
		op         Op
	}{
		{"too many events", 17, 1, OpAccess},
		{"negative events", -1, 1, OpAccess},
		{"too many victims", 1, 17, OpAccess},
		{"unknown op", 1, 1, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestSession(t, 16)
			encodeEvent(s.buf, Event{Op: tc.op, Hash: 1})
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			s.update(tc.n, 1, tc.maxVictims)
		})
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[Op]string{OpAccess: "access", OpInsert: "insert", OpUpdate: "update", OpRemove: "remove", 7: "op(7)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, want)
		}
	}
}

func TestNew(t *testing.T) {
	Register(nil)
	if p := New(1); p != nil {
		t.Errorf("New with nothing registered = %v", p)
	}
	var got int64
	Register(func(c int64) Policy { got = c; return &recorder{} })
	t.Cleanup(func() { Register(nil) })
	if New(42) == nil || got != 42 {
		t.Errorf("New(42) made a policy for %d", got)
	}
}
