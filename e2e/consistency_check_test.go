package e2e

// The checker of TestConsistency: the recorded history, the register
// model porcupine checks it against, and a direct count of the two
// anomalies DESIGN.md rules out ("once a Set or Delete is acknowledged, no
// node answers an older value for that key").
//
// Model. Each key of the group is an independent register whose initial
// state is "absent". Set(k, v) makes it v, Delete(k) makes it absent, Get
// returns it (a value, or NotFound when absent). Every value written is
// unique, so a value read names the Set that wrote it. An attempt that
// failed with an error may or may not have taken effect, at any time after
// it was called: for porcupine it returns at the end of the history. A
// failed Get has no effect and is left out.
//
// Direct count. Times are one process's monotonic clock; an op a "completed
// before" b starts when a.Return < b.Call (porcupine treats equal times as
// concurrent, and so does this). The sources of a Get g's result r are the
// writes that could have produced it and were called before g returned:
// the Set attempts of r's value, or (r = NotFound) every Delete attempt
// and the initial state. A source's end is its Return if it was
// acknowledged, +inf if it failed, -inf for the initial state. Then g is
// an anomaly when some acknowledged write w of the key completed before g
// started, and every source of r ended before w started: in every order of
// the history w overwrote r before g read it. The anomaly is
//   - a lost acknowledged write when r = NotFound and w is a Set (the
//     value is gone: no Delete could have been ordered between w and g);
//   - a stale read otherwise (g returned a value, or absent, that w had
//     already replaced);
//   - a phantom read when r has no source at all (a value never written,
//     or written only after g returned).
// Every such anomaly also makes porcupine answer Illegal; porcupine finds
// more (such as a read of v after a newer value was read, when the write
// in between failed), which this count does not name.

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// opKind is the RPC an attempt called.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opDelete
)

var opKindNames = [...]string{opGet: "get", opSet: "set", opDelete: "delete"}

func (k opKind) String() string { return opKindNames[k] }

// MarshalText writes k's name, for the JSON history.
func (k opKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// outcome is how an attempt ended.
type outcome uint8

const (
	outOK       outcome = iota // the call succeeded
	outNotFound                // a Get answered NotFound
	outError                   // any other error: a write's effect is unknown
)

var outcomeNames = [...]string{outOK: "ok", outNotFound: "not found", outError: "error"}

func (o outcome) String() string { return outcomeNames[o] }

// MarshalText writes o's name, for the JSON history.
func (o outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// histOp is one attempt of one client call, as its worker saw it.
type histOp struct {
	Worker  int     `json:"worker"`
	Node    string  `json:"node"` // the node the attempt was sent to
	Kind    opKind  `json:"kind"`
	Key     string  `json:"key"`
	Value   string  `json:"value,omitempty"` // Set: written; Get with outOK: read
	Call    int64   `json:"call"`            // ns since the run began, monotonic
	Return  int64   `json:"return"`
	Outcome outcome `json:"outcome"`
	Err     string  `json:"err,omitempty"` // the error (outError)
	// Final is false when the worker retried the call after this attempt.
	Final bool `json:"final"`
	// Batch is set when the attempt was one key of a GetMany, SetMany or
	// DeleteMany: Call and Return are the batch's.
	Batch bool `json:"batch,omitempty"`
}

func (o histOp) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "w%d@%s %s(%s", o.Worker, o.Node, o.Kind, o.Key)
	if o.Kind == opSet {
		fmt.Fprintf(&b, ", %s", o.Value)
	}
	b.WriteString(")")
	switch {
	case o.Outcome == outError:
		fmt.Fprintf(&b, " -> error %s", o.Err)
	case o.Kind == opGet && o.Outcome == outOK:
		fmt.Fprintf(&b, " -> %s", o.Value)
	case o.Kind == opGet:
		b.WriteString(" -> not found")
	default:
		b.WriteString(" -> ok")
	}
	fmt.Fprintf(&b, " [%s, %s]", fmtNanos(o.Call), fmtNanos(o.Return))
	return b.String()
}

// fmtNanos prints a time since the run began as seconds.
func fmtNanos(ns int64) string { return fmt.Sprintf("%.3fs", float64(ns)/1e9) }

// anomalyKind names what the direct count found.
type anomalyKind uint8

const (
	staleRead anomalyKind = iota
	lostWrite
	phantomRead
)

var anomalyNames = [...]string{staleRead: "stale read", lostWrite: "lost acknowledged write", phantomRead: "phantom read"}

func (k anomalyKind) String() string { return anomalyNames[k] }

// anomaly is one Get the direct count rules out.
type anomaly struct {
	kind anomalyKind
	read histOp
	// newer is the acknowledged write read should have seen; zero for a
	// phantom read.
	newer histOp
}

func (a anomaly) String() string {
	if a.kind == phantomRead {
		return fmt.Sprintf("%s: %v (no write could have produced it)", a.kind, a.read)
	}
	return fmt.Sprintf("%s: %v, after %v", a.kind, a.read, a.newer)
}

// findAnomalies returns the anomalies of history (see the file comment),
// ordered by the Get's call time.
func findAnomalies(history []histOp) []anomaly {
	var out []anomaly
	for _, ops := range byKey(history) {
		out = append(out, keyAnomalies(ops)...)
	}
	slices.SortFunc(out, func(a, b anomaly) int { return cmp.Compare(a.read.Call, b.read.Call) })
	return out
}

// byKey splits history by key, keys sorted.
func byKey(history []histOp) [][]histOp {
	m := map[string][]histOp{}
	for _, o := range history {
		m[o.Key] = append(m[o.Key], o)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]histOp, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// keyAnomalies is findAnomalies for the operations of one key.
func keyAnomalies(ops []histOp) []anomaly {
	// acked writes ordered by Return, with the latest-called one of each
	// prefix: the best candidate for "w completed before g started".
	var acked []histOp
	setsOf := map[string][]histOp{} // Set attempts by value
	var deletes []histOp
	for _, o := range ops {
		switch o.Kind {
		case opSet:
			setsOf[o.Value] = append(setsOf[o.Value], o)
		case opDelete:
			deletes = append(deletes, o)
		default:
			continue
		}
		if o.Outcome == outOK {
			acked = append(acked, o)
		}
	}
	slices.SortFunc(acked, func(a, b histOp) int { return cmp.Compare(a.Return, b.Return) })
	latest := make([]int, len(acked)) // latest[i]: index in acked[:i+1] of the max Call
	for i := range acked {
		latest[i] = i
		if i > 0 && acked[latest[i-1]].Call > acked[i].Call {
			latest[i] = latest[i-1]
		}
	}
	var out []anomaly
	for _, g := range ops {
		if g.Kind != opGet || g.Outcome == outError {
			continue
		}
		sources := deletes
		srcEnd := int64(math.MinInt64) // the initial state
		if g.Outcome == outOK {
			sources, srcEnd = setsOf[g.Value], math.MinInt64
		}
		found := g.Outcome == outNotFound
		for _, s := range sources {
			if s.Call > g.Return {
				continue
			}
			found = true
			srcEnd = max(srcEnd, endOf(s))
		}
		if !found {
			out = append(out, anomaly{kind: phantomRead, read: g})
			continue
		}
		// The acked writes that completed before g started are
		// acked[:n]; the latest-called of them is the best witness.
		n, _ := slices.BinarySearchFunc(acked, g.Call, func(w histOp, t int64) int { return cmp.Compare(w.Return, t) })
		if n == 0 {
			continue
		}
		w := acked[latest[n-1]]
		if w.Call <= srcEnd {
			continue
		}
		kind := staleRead
		if g.Outcome == outNotFound && w.Kind == opSet {
			kind = lostWrite
		}
		out = append(out, anomaly{kind: kind, read: g, newer: w})
	}
	return out
}

// endOf is when a write's effect is known to be in place: its Return if
// acknowledged, never (+inf) if it failed.
func endOf(w histOp) int64 {
	if w.Outcome == outOK {
		return w.Return
	}
	return math.MaxInt64
}

// kvInput is a porcupine operation's input.
type kvInput struct {
	kind       opKind
	key, value string
}

// kvOutput is a porcupine operation's output; outError marks a write
// that failed (its effect is unknown).
type kvOutput struct {
	outcome outcome
	value   string
}

// kvState is one key's register; the zero value is absent.
type kvState struct {
	present bool
	value   string
}

// kvModel is the register model of the file comment, partitioned by key:
// a history is linearizable iff each key's history is.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		m := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range history {
			k := o.Input.(kvInput).key
			if _, ok := m[k]; !ok {
				keys = append(keys, k)
			}
			m[k] = append(m[k], o)
		}
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = m[k]
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		switch in.kind {
		case opSet: // acknowledged, or failed and ordered where it took effect
			return true, kvState{present: true, value: in.value}
		case opDelete:
			return true, kvState{}
		}
		if out.outcome == outNotFound {
			return !s.present, s
		}
		return s.present && s.value == out.value, s
	},
	Hash: func(state any) uint64 {
		s := state.(kvState)
		if !s.present {
			return 0
		}
		h := fnv.New64a()
		h.Write([]byte(s.value))
		return h.Sum64() | 1
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case in.kind == opSet && out.outcome == outError:
			return fmt.Sprintf("set(%s, %s) -> ?", in.key, in.value)
		case in.kind == opSet:
			return fmt.Sprintf("set(%s, %s)", in.key, in.value)
		case in.kind == opDelete && out.outcome == outError:
			return fmt.Sprintf("delete(%s) -> ?", in.key)
		case in.kind == opDelete:
			return fmt.Sprintf("delete(%s)", in.key)
		case out.outcome == outNotFound:
			return fmt.Sprintf("get(%s) -> not found", in.key)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, out.value)
	},
	DescribeState: func(state any) string {
		if s := state.(kvState); s.present {
			return s.value
		}
		return "(absent)"
	},
	DescribeOperationMetadata: func(info any) string {
		if info == nil {
			return ""
		}
		return info.(string)
	},
}

// toPorcupine converts history for kvModel: failed Gets are left out; a
// failed write returns at the end of the history, or is left out when no
// read could show its effect (a Set whose value no Get returned, a Delete
// with no NotFound answered after its call), which is the same as
// ordering it last.
func toPorcupine(history []histOp) []porcupine.Operation {
	var end int64
	readValues := map[[2]string]bool{} // key, value
	lastNotFound := map[string]int64{} // key -> latest Return of a NotFound
	for _, o := range history {
		end = max(end, o.Return)
		if o.Kind == opGet && o.Outcome == outOK {
			readValues[[2]string{o.Key, o.Value}] = true
		}
		if o.Kind == opGet && o.Outcome == outNotFound {
			lastNotFound[o.Key] = max(lastNotFound[o.Key], o.Return)
		}
	}
	var ops []porcupine.Operation
	for _, o := range history {
		ret := o.Return
		if o.Outcome == outError {
			switch {
			case o.Kind == opGet:
				continue
			case o.Kind == opSet && !readValues[[2]string{o.Key, o.Value}]:
				continue
			case o.Kind == opDelete:
				if at, ok := lastNotFound[o.Key]; !ok || at < o.Call {
					continue
				}
			}
			ret = end + 1
		}
		ops = append(ops, porcupine.Operation{
			ClientId: o.Worker,
			Input:    kvInput{kind: o.Kind, key: o.Key, value: o.Value},
			Call:     o.Call,
			Output:   kvOutput{outcome: o.Outcome, value: o.Value},
			Return:   ret,
			Metadata: fmt.Sprintf("node %s; %s", o.Node, o.Err),
		})
	}
	return ops
}

// linResult is porcupine's verdict on a history, key by key.
type linResult struct {
	result  porcupine.CheckResult // Illegal if any key is, else Unknown if any key is
	illegal []string              // keys, sorted
	unknown []string              // keys whose check ran out of time
	// info is the linearization info of the first illegal key (with
	// infoKey), for porcupine.Visualize.
	info    porcupine.LinearizationInfo
	infoKey string
}

// checkLinearizable checks history against kvModel, each key in its own
// goroutine, each within timeout; then it checks the first illegal key
// again in verbose mode, within timeout, for its visualization.
func checkLinearizable(history []histOp, timeout time.Duration) linResult {
	ops := toPorcupine(history)
	parts := kvModel.Partition(ops)
	results := make([]porcupine.CheckResult, len(parts))
	// timeout is each key's budget of CPU: at most GOMAXPROCS checks run
	// at once, so that on a small machine the keys do not share it.
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i] = porcupine.CheckOperationsTimeout(kvModel, p, timeout)
		})
	}
	wg.Wait()
	r := linResult{result: porcupine.Ok}
	var first []porcupine.Operation
	for i, p := range parts {
		key := p[0].Input.(kvInput).key
		switch results[i] {
		case porcupine.Illegal:
			r.illegal = append(r.illegal, key)
			if first == nil || key < r.infoKey {
				first, r.infoKey = p, key
			}
		case porcupine.Unknown:
			r.unknown = append(r.unknown, key)
		}
	}
	slices.Sort(r.illegal)
	slices.Sort(r.unknown)
	switch {
	case len(r.illegal) > 0:
		r.result = porcupine.Illegal
		_, r.info = porcupine.CheckOperationsVerbose(kvModel, first, timeout)
	case len(r.unknown) > 0:
		r.result = porcupine.Unknown
	}
	return r
}

// kindCounts counts the calls of one kind by their last attempt's outcome,
// and the attempts that were retried.
type kindCounts struct {
	ok, notFound, errLeft, retried int
}

// countOps counts history's calls (final attempts) by kind.
func countOps(history []histOp) map[opKind]*kindCounts {
	m := map[opKind]*kindCounts{opGet: {}, opSet: {}, opDelete: {}}
	for _, o := range history {
		c := m[o.Kind]
		switch {
		case !o.Final:
			c.retried++
		case o.Outcome == outOK:
			c.ok++
		case o.Outcome == outNotFound:
			c.notFound++
		default:
			c.errLeft++
		}
	}
	return m
}

// TestConsistencyCheckerHistories proves the checker on small hand-made histories:
// it accepts correct ones (including writes whose effect is unknown) and
// names a stale read, a lost write and a phantom read.
func TestConsistencyCheckerHistories(t *testing.T) {
	set := func(v string, call, ret int64) histOp {
		return histOp{Kind: opSet, Key: "k", Value: v, Call: call, Return: ret, Final: true}
	}
	del := func(call, ret int64) histOp {
		return histOp{Kind: opDelete, Key: "k", Call: call, Return: ret, Final: true}
	}
	get := func(v string, call, ret int64) histOp {
		o := histOp{Kind: opGet, Key: "k", Value: v, Call: call, Return: ret, Final: true}
		if v == "" {
			o.Outcome = outNotFound
		}
		return o
	}
	failed := func(o histOp) histOp { o.Outcome, o.Err = outError, "unavailable"; return o }
	tests := []struct {
		name    string
		history []histOp
		want    []anomalyKind
		result  porcupine.CheckResult
	}{
		{"correct", []histOp{
			get("", 0, 5), set("a", 10, 20), get("a", 30, 40),
			set("b", 50, 80), get("a", 55, 60), get("b", 70, 75), get("b", 90, 95),
			del(100, 110), get("", 120, 130),
		}, nil, porcupine.Ok},
		{"concurrent write may show or not", []histOp{
			set("a", 0, 10), set("b", 20, 60), get("a", 30, 40), get("b", 30, 40), get("a", 45, 50),
		}, nil, porcupine.Illegal}, // a after b is fine for the count, not for porcupine
		{"failed write may take effect", []histOp{
			set("a", 0, 10), failed(set("b", 20, 30)), get("b", 40, 50), get("b", 60, 70),
		}, nil, porcupine.Ok},
		{"failed write may not take effect", []histOp{
			set("a", 0, 10), failed(set("b", 20, 30)), get("a", 40, 50),
		}, nil, porcupine.Ok},
		{"failed delete may take effect", []histOp{
			set("a", 0, 10), failed(del(20, 30)), get("", 40, 50),
		}, nil, porcupine.Ok},
		{"failed get is ignored", []histOp{
			set("a", 0, 10), failed(get("", 20, 30)), get("a", 40, 50),
		}, nil, porcupine.Ok},
		{"stale read", []histOp{
			set("a", 0, 10), set("b", 20, 30), get("a", 40, 50),
		}, []anomalyKind{staleRead}, porcupine.Illegal},
		{"stale read after delete", []histOp{
			set("a", 0, 10), del(20, 30), get("a", 40, 50),
		}, []anomalyKind{staleRead}, porcupine.Illegal},
		{"lost write", []histOp{
			set("a", 0, 10), get("", 20, 30),
		}, []anomalyKind{lostWrite}, porcupine.Illegal},
		{"lost write after a delete", []histOp{
			del(0, 10), set("a", 20, 30), get("", 40, 50),
		}, []anomalyKind{lostWrite}, porcupine.Illegal},
		{"phantom read", []histOp{
			set("a", 0, 10), get("zzz", 20, 30), get("b", 40, 50), set("b", 60, 70),
		}, []anomalyKind{phantomRead, phantomRead}, porcupine.Illegal},
		{"flip-flop after a failed write", []histOp{
			set("a", 0, 10), failed(set("b", 20, 30)), get("b", 40, 50), get("a", 60, 70),
		}, nil, porcupine.Illegal}, // porcupine sees what the count does not
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []anomalyKind
			for _, a := range findAnomalies(tt.history) {
				got = append(got, a.kind)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("anomalies %v, want %v", got, tt.want)
			}
			r := checkLinearizable(tt.history, 5*time.Second)
			if r.result != tt.result {
				t.Errorf("porcupine %v (illegal keys %v), want %v", r.result, r.illegal, tt.result)
			}
		})
	}
}

// TestConsistencyCheckerCounts checks that calls are counted by their last attempt.
func TestConsistencyCheckerCounts(t *testing.T) {
	h := []histOp{
		{Kind: opSet, Key: "k", Value: "a", Outcome: outError, Final: false},
		{Kind: opSet, Key: "k", Value: "a", Outcome: outOK, Final: true},
		{Kind: opGet, Key: "k", Outcome: outNotFound, Final: true},
		{Kind: opGet, Key: "k", Outcome: outError, Final: true},
		{Kind: opDelete, Key: "k", Outcome: outOK, Final: true},
	}
	got := countOps(h)
	want := map[opKind]kindCounts{
		opSet: {ok: 1, retried: 1}, opGet: {notFound: 1, errLeft: 1}, opDelete: {ok: 1},
	}
	for k, w := range want {
		if *got[k] != w {
			t.Errorf("%v: %+v, want %+v", k, *got[k], w)
		}
	}
}

// TestConsistencyCheckerTimeout checks that a check bounded by a timeout returns.
func TestConsistencyCheckerTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var h []histOp
	for i := range 200 { // many concurrent writes of one key: a big search
		h = append(h, histOp{Kind: opSet, Key: "k", Value: fmt.Sprint(i), Call: 0, Return: 1000, Final: true})
		h = append(h, histOp{Kind: opGet, Key: "k", Value: fmt.Sprint(199 - i), Call: 0, Return: 1000, Final: true})
	}
	done := make(chan linResult, 1)
	go func() { done <- checkLinearizable(h, 100*time.Millisecond) }()
	select {
	case r := <-done:
		t.Logf("200 concurrent writes and reads: %v", r.result)
	case <-ctx.Done():
		t.Fatal("checkLinearizable ignored its timeout")
	}
}
