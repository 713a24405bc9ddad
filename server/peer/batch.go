package peer

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cache"
)

// FetchMany answers each key as Fetch would, in one call.
func (s *Service) FetchMany(ctx context.Context, req *connect.Request[distcachev1.FetchManyRequest]) (*connect.Response[distcachev1.FetchManyResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	fs := g.GetManyLocal(ctx, req.Msg.GetKeys(), req.Msg.GetHolder())
	now := s.cfg.Now()
	res := &distcachev1.FetchManyResponse{Results: make([]*distcachev1.FetchResult, len(fs))}
	for i, f := range fs {
		r := &distcachev1.FetchResult{}
		res.Results[i] = r
		if f.Err != nil {
			r.Error = KeyErrorOf(s.errorFromOwner(f.Err))
			continue
		}
		r.Value, r.Loaded = f.Value.Bytes, f.Value.Source == cache.SourceLoader
		if f.Lease > 0 {
			r.HotLease = durationpb.New(f.Lease)
		}
		if !f.Value.Expires.IsZero() {
			r.Ttl = durationpb.New(max(f.Value.Expires.Sub(now), 0))
		}
	}
	return connect.NewResponse(res), nil
}

// StoreMany sets each entry as Store would, in one call.
func (s *Service) StoreMany(ctx context.Context, req *connect.Request[distcachev1.StoreManyRequest]) (*connect.Response[distcachev1.StoreManyResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetEntries()
	res := &distcachev1.StoreManyResponse{Results: make([]*distcachev1.WriteResult, len(in))}
	var idx []int
	var entries []cache.Entry
	for i, e := range in {
		res.Results[i] = &distcachev1.WriteResult{}
		if err := s.cfg.CheckValue(e.GetValue()); err != nil {
			res.Results[i].Error = KeyErrorOf(err)
			continue
		}
		idx = append(idx, i)
		entries = append(entries, cache.Entry{Key: e.GetKey(), Value: e.GetValue(), TTL: TTLOf(e.GetTtl())})
	}
	for j, err := range g.SetManyLocal(ctx, entries) {
		if err != nil {
			res.Results[idx[j]].Error = KeyErrorOf(s.errorFromOwner(err))
		}
	}
	return connect.NewResponse(res), nil
}

// RemoveMany deletes each key as Remove would, in one call.
func (s *Service) RemoveMany(ctx context.Context, req *connect.Request[distcachev1.RemoveManyRequest]) (*connect.Response[distcachev1.RemoveManyResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	errs := g.DeleteManyLocal(ctx, req.Msg.GetKeys())
	res := &distcachev1.RemoveManyResponse{Results: make([]*distcachev1.WriteResult, len(errs))}
	for i, err := range errs {
		res.Results[i] = &distcachev1.WriteResult{}
		if err != nil {
			res.Results[i].Error = KeyErrorOf(s.errorFromOwner(err))
		}
	}
	return connect.NewResponse(res), nil
}

var _ cache.BatchPeer = (*Remote)(nil)

// rounds is how many keys' calls in turn a batch of n keys may take on
// the owner, which runs [cache.BatchParallel] at once.
func rounds(n int) time.Duration {
	return time.Duration((n + cache.BatchParallel - 1) / cache.BatchParallel)
}

// FetchMany implements [cache.BatchPeer]: one FetchMany call, bounded by
// the peer timeout as a Fetch is, once per round of keys the owner may
// have to load in turn.
func (p *Remote) FetchMany(ctx context.Context, group string, keys []string, holder string) ([]cache.Fetched, error) {
	cctx, cancel := context.WithTimeout(ctx, p.c.timeout*rounds(len(keys)))
	defer cancel()
	req := &distcachev1.FetchManyRequest{Group: group, Keys: keys, Holder: holder}
	res, err := p.c.client(p.member.Addr).FetchMany(cctx, connect.NewRequest(req))
	if err != nil {
		return nil, p.wrap(ctx, err, group, keys[0])
	}
	rs := res.Msg.GetResults()
	if len(rs) != len(keys) {
		return nil, errCount(len(rs), len(keys))
	}
	now := time.Now()
	out := make([]cache.Fetched, len(rs))
	for i, r := range rs {
		if r.GetError() != nil {
			out[i].Err = p.wrap(ctx, ErrorOfKey(r.GetError()), group, keys[i])
			continue
		}
		out[i].Value.Bytes = r.GetValue()
		if r.GetTtl() != nil {
			out[i].Value.Expires = now.Add(r.GetTtl().AsDuration())
		}
		out[i].Lease = r.GetHotLease().AsDuration()
	}
	return out, nil
}

// StoreMany implements [cache.BatchPeer]: one StoreMany call, bounded by
// the write timeout as a Store is, once per round of keys.
func (p *Remote) StoreMany(ctx context.Context, group string, entries []cache.Entry) ([]error, error) {
	cctx, cancel := context.WithTimeout(ctx, p.c.writeTimeout*rounds(len(entries)))
	defer cancel()
	req := &distcachev1.StoreManyRequest{Group: group, Entries: make([]*distcachev1.SetEntry, len(entries))}
	for i, e := range entries {
		req.Entries[i] = &distcachev1.SetEntry{Key: e.Key, Value: e.Value}
		if e.TTL >= 0 {
			req.Entries[i].Ttl = durationpb.New(e.TTL)
		}
	}
	res, err := p.c.client(p.member.Addr).StoreMany(cctx, connect.NewRequest(req))
	if err != nil {
		return nil, p.wrap(ctx, err, group, entries[0].Key)
	}
	return p.writeResults(ctx, group, res.Msg.GetResults(), func(i int) string { return entries[i].Key }, len(entries))
}

// RemoveMany implements [cache.BatchPeer]: one RemoveMany call, bounded
// by the write timeout as a Remove is, once per round of keys.
func (p *Remote) RemoveMany(ctx context.Context, group string, keys []string) ([]error, error) {
	cctx, cancel := context.WithTimeout(ctx, p.c.writeTimeout*rounds(len(keys)))
	defer cancel()
	res, err := p.c.client(p.member.Addr).RemoveMany(cctx, connect.NewRequest(&distcachev1.RemoveManyRequest{Group: group, Keys: keys}))
	if err != nil {
		return nil, p.wrap(ctx, err, group, keys[0])
	}
	return p.writeResults(ctx, group, res.Msg.GetResults(), func(i int) string { return keys[i] }, len(keys))
}

// writeResults turns a batch write's answers into the cache's errors, as
// wrap turns a single write's.
func (p *Remote) writeResults(ctx context.Context, group string, rs []*distcachev1.WriteResult, key func(int) string, n int) ([]error, error) {
	if len(rs) != n {
		return nil, errCount(len(rs), n)
	}
	errs := make([]error, n)
	for i, r := range rs {
		errs[i] = p.wrap(ctx, ErrorOfKey(r.GetError()), group, key(i))
	}
	return errs, nil
}
