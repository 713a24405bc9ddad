package node

import (
	"context"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// serverSpans counts the server spans of each procedure recorded so far.
func serverSpans(tp *sdktrace.TracerProvider, rec *tracetest.SpanRecorder) map[string]int {
	tp.ForceFlush(context.Background())
	n := map[string]int{}
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			n[s.Name()]++
		}
	}
	return n
}

// TestBatchFansOutOnePeerCallPerOwner sends batches to one node of three
// and counts the peer calls: one per other owner, none per key; and every
// key's answer is the one the single calls give.
func TestBatchFansOutOnePeerCallPerOwner(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	nodes := startCluster(t, 3, Config{TracerProvider: tp})
	ctx := context.Background()
	keys := make([]string, 30)
	entries := make([]*distcachev1.SetEntry, len(keys))
	owners := map[int]bool{}
	for i := range keys {
		keys[i] = fmt.Sprintf("batch-%d", i)
		entries[i] = &distcachev1.SetEntry{Key: keys[i], Value: []byte("v-" + keys[i])}
		owners[ownerOf(t, nodes, keys[i])] = true
	}
	if len(owners) != 3 {
		t.Fatalf("30 keys fell on %d owners, want 3", len(owners))
	}
	c := nodes[0].clients(protocols()[0]).cache
	before := serverSpans(tp, rec)
	set, err := c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "default", Entries: entries}))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range set.Msg.GetResults() {
		if r.GetError() != nil {
			t.Fatalf("SetMany %s: %v", keys[i], r.GetError())
		}
	}
	get, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "default", Keys: append(keys, "batch-missing")}))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range get.Msg.GetResults()[:len(keys)] {
		want := distcachev1.Source_SOURCE_PEER
		if ownerOf(t, nodes, keys[i]) == 0 {
			want = distcachev1.Source_SOURCE_LOCAL
		}
		if string(r.GetValue()) != "v-"+keys[i] || r.GetSource() != want {
			t.Errorf("GetMany %s: %q from %v (%v), want v-%s from %v", keys[i], r.GetValue(), r.GetSource(), r.GetError(), keys[i], want)
		}
	}
	if e := get.Msg.GetResults()[len(keys)].GetError(); e.GetCode() != "not_found" {
		t.Errorf("GetMany of a missing key: %v, want not_found", e)
	}
	del, err := c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: "default", Keys: keys}))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range del.Msg.GetResults() {
		if r.GetError() != nil {
			t.Fatalf("DeleteMany %s: %v", keys[i], r.GetError())
		}
	}
	after := serverSpans(tp, rec)
	for _, tc := range []struct {
		batch, single string
	}{{"FetchMany", "Fetch"}, {"StoreMany", "Store"}, {"RemoveMany", "Remove"}} {
		batch := "distcache.v1.PeerService/" + tc.batch
		single := "distcache.v1.PeerService/" + tc.single
		if got := after[batch] - before[batch]; got != 2 {
			t.Errorf("%d %s calls, want 2 (one per other owner)", got, tc.batch)
		}
		if got := after[single] - before[single]; got != 0 {
			t.Errorf("%d %s calls, want none", got, tc.single)
		}
	}
	for _, n := range nodes {
		for _, k := range keys[:3] {
			if _, err := n.clients(protocols()[0]).cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: k})); connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("Get(%s) on %s after DeleteMany: %v, want not_found", k, n.Picker().Self(), err)
			}
		}
	}
}

// TestBatchHotCopiesAreRevoked reads keys twice through GetMany so the
// reader keeps hot copies under the owners' leases, writes them through
// SetMany on another node, and reads again: the owners revoked the
// leases before acknowledging, so no old value comes back.
func TestBatchHotCopiesAreRevoked(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	ctx := context.Background()
	reader, writer := nodes[0].clients(protocols()[0]).cache, nodes[1].clients(protocols()[0]).cache
	var keys []string
	for i := 0; len(keys) < 6; i++ {
		if k := fmt.Sprintf("hot-%d", i); ownerOf(t, nodes, k) != 0 {
			keys = append(keys, k)
		}
	}
	write := func(v string) {
		entries := make([]*distcachev1.SetEntry, len(keys))
		for i, k := range keys {
			entries[i] = &distcachev1.SetEntry{Key: k, Value: []byte(v)}
		}
		res, err := writer.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "default", Entries: entries}))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.Msg.GetResults() {
			if r.GetError() != nil {
				t.Fatalf("SetMany %s: %v", keys[i], r.GetError())
			}
		}
	}
	read := func() []*distcachev1.GetResult {
		res, err := reader.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "default", Keys: keys}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetResults()
	}
	write("v1")
	read()
	read()
	hot := 0
	for _, r := range read() {
		if r.GetSource() == distcachev1.Source_SOURCE_HOT {
			hot++
		}
	}
	if hot != len(keys) {
		t.Fatalf("%d of %d keys read from hot copies on the third GetMany, want all", hot, len(keys))
	}
	write("v2")
	for i, r := range read() {
		if string(r.GetValue()) != "v2" {
			t.Errorf("%s after SetMany elsewhere: %q from %v, want v2", keys[i], r.GetValue(), r.GetSource())
		}
	}
}
