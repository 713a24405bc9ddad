package api

import (
	"context"
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/peer"
)

// DefaultMaxBatchKeys is the most keys a GetMany, SetMany or DeleteMany
// may carry when [Config.MaxBatchKeys] is zero.
const DefaultMaxBatchKeys = 1000

// The single-key rules the batch calls check each key against without
// asking protovalidate, which they ask only to describe a key that breaks
// them: keys of 1 to 250 bytes, ttls of 0 to 365 days. batch_test.go
// checks that they agree with the rules in cache.proto.
const (
	maxKeyBytes   = 250
	maxTTLSeconds = 365 * 24 * 3600
	maxValueLimit = 64 << 20
)

// GetMany answers each key as Get would, in one call.
func (s *cacheService) GetMany(ctx context.Context, req *connect.Request[distcachev1.GetManyRequest]) (*connect.Response[distcachev1.GetManyResponse], error) {
	keys := req.Msg.GetKeys()
	g, err := s.checkBatch(req.Msg.GetGroup(), len(keys))
	if err != nil {
		return nil, err
	}
	results := make([]distcachev1.GetResult, len(keys))
	res := &distcachev1.GetManyResponse{Results: make([]*distcachev1.GetResult, len(keys))}
	for i := range results {
		res.Results[i] = &results[i]
	}
	valid, idx := validKeys(req.Msg.GetGroup(), keys, res.Results, func(r *distcachev1.GetResult, ke *distcachev1.KeyError) { r.Error = ke },
		func(group, key string) proto.Message { return &distcachev1.GetRequest{Group: group, Key: key} })
	now := s.now()
	for j, r := range g.GetMany(ctx, valid) {
		out := res.Results[idx(j)]
		if r.Err != nil {
			out.Error = peer.KeyErrorOf(errorFromCache(r.Err))
			continue
		}
		out.Found, out.Value, out.Source = true, r.Value.Bytes, distcachev1.Source(r.Value.Source)
		if !r.Value.Expires.IsZero() {
			out.Ttl = durationpb.New(max(r.Value.Expires.Sub(now), 0))
		}
	}
	return connect.NewResponse(res), nil
}

// SetMany stores each entry as Set would, in one call.
func (s *cacheService) SetMany(ctx context.Context, req *connect.Request[distcachev1.SetManyRequest]) (*connect.Response[distcachev1.SetManyResponse], error) {
	in := req.Msg.GetEntries()
	g, err := s.checkBatch(req.Msg.GetGroup(), len(in))
	if err != nil {
		return nil, err
	}
	res := &distcachev1.SetManyResponse{Results: writeResults(len(in))}
	entries := make([]cache.Entry, 0, len(in))
	idx := make([]int, 0, len(in))
	for i, e := range in {
		if err := s.checkEntry(req.Msg.GetGroup(), e); err != nil {
			res.Results[i].Error = peer.KeyErrorOf(err)
			continue
		}
		entries = append(entries, cache.Entry{Key: e.GetKey(), Value: e.GetValue(), TTL: peer.TTLOf(e.GetTtl())})
		idx = append(idx, i)
	}
	for j, err := range g.SetMany(ctx, entries) {
		if err != nil {
			res.Results[idx[j]].Error = peer.KeyErrorOf(errorFromCache(err))
		}
	}
	return connect.NewResponse(res), nil
}

// DeleteMany removes each key as Delete would, in one call.
func (s *cacheService) DeleteMany(ctx context.Context, req *connect.Request[distcachev1.DeleteManyRequest]) (*connect.Response[distcachev1.DeleteManyResponse], error) {
	keys := req.Msg.GetKeys()
	g, err := s.checkBatch(req.Msg.GetGroup(), len(keys))
	if err != nil {
		return nil, err
	}
	res := &distcachev1.DeleteManyResponse{Results: writeResults(len(keys))}
	valid, idx := validKeys(req.Msg.GetGroup(), keys, res.Results, func(r *distcachev1.WriteResult, ke *distcachev1.KeyError) { r.Error = ke },
		func(group, key string) proto.Message { return &distcachev1.DeleteRequest{Group: group, Key: key} })
	for j, err := range g.DeleteMany(ctx, valid) {
		if err != nil {
			res.Results[idx(j)].Error = peer.KeyErrorOf(errorFromCache(err))
		}
	}
	return connect.NewResponse(res), nil
}

func writeResults(n int) []*distcachev1.WriteResult {
	results := make([]distcachev1.WriteResult, n)
	out := make([]*distcachev1.WriteResult, n)
	for i := range results {
		out[i] = &results[i]
	}
	return out
}

// checkBatch refuses a batch of n keys over the node's --max-batch-keys,
// with a violation of field 2 (keys or entries) as protovalidate would
// word a max_items rule, then returns its group.
func (s *cacheService) checkBatch(group string, n int) (*cache.Group, error) {
	if n > s.maxBatchKeys {
		return nil, fieldViolation(2, "keys", descriptorpb.FieldDescriptorProto_TYPE_STRING, "repeated.max_items",
			fmt.Sprintf("a batch may carry at most %d keys (this node's --max-batch-keys), got %d", s.maxBatchKeys, n))
	}
	return s.group(group)
}

// validKeys checks each key as the single call's request checks it. A bad
// key's result gets its invalid_argument through setErr; validKeys returns
// the good keys and, for the j-th of them, its index in keys.
func validKeys[R any](group string, keys []string, results []R, setErr func(R, *distcachev1.KeyError),
	single func(group, key string) proto.Message) ([]string, func(int) int) {
	bad := -1
	for i, key := range keys {
		if !keyOK(key) {
			bad = i
			break
		}
	}
	if bad < 0 {
		return keys, func(j int) int { return j }
	}
	valid := make([]string, 0, len(keys))
	idx := make([]int, 0, len(keys))
	for i, key := range keys {
		if !keyOK(key) {
			setErr(results[i], peer.KeyErrorOf(validationError(single(group, key))))
			continue
		}
		valid = append(valid, key)
		idx = append(idx, i)
	}
	return valid, func(j int) int { return idx[j] }
}

// keyOK reports whether key passes the rules of a single call's key.
func keyOK(key string) bool { return len(key) > 0 && len(key) <= maxKeyBytes }

// groupOK reports whether name matches the rule of every request's group,
// ^[a-z][a-z0-9_-]{0,62}$.
func groupOK(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ttlOK reports whether ttl passes the rules of a Set's ttl: absent, or 0
// to 365 days.
func ttlOK(ttl *durationpb.Duration) bool {
	return ttl == nil || ttl.GetSeconds() >= 0 && ttl.GetNanos() >= 0 && ttl.GetNanos() < 1e9 &&
		(ttl.GetSeconds() < maxTTLSeconds || ttl.GetSeconds() == maxTTLSeconds && ttl.GetNanos() == 0)
}

// setOK reports whether req passes the rules of SetRequest (the node's
// own value limit is checked apart).
func setOK(req *distcachev1.SetRequest) bool {
	return groupOK(req.GetGroup()) && keyOK(req.GetKey()) && len(req.GetValue()) <= maxValueLimit && ttlOK(req.GetTtl())
}

// checkEntry checks one entry of a SetMany as a Set's request is checked:
// its fields by the rules of SetRequest, its value by the node's limit.
func (s *cacheService) checkEntry(group string, e *distcachev1.SetEntry) error {
	ttl := e.GetTtl()
	if !keyOK(e.GetKey()) || !ttlOK(ttl) || len(e.GetValue()) > maxValueLimit {
		single := &distcachev1.SetRequest{Group: group, Key: e.GetKey(), Value: e.GetValue(), Ttl: ttl}
		if err := validationError(single); err != nil {
			return err
		}
	}
	return s.checkValue(e.GetValue())
}

// validationError validates msg with protovalidate and returns its
// invalid_argument, shaped as the validation interceptor's, or nil.
func validationError(msg proto.Message) error {
	err := protovalidate.Validate(msg)
	if err == nil {
		return nil
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, err)
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		if detail, derr := connect.NewErrorDetail(verr.ToProto()); derr == nil {
			cerr.AddDetail(detail)
		}
	}
	return cerr
}
