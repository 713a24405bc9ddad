package api

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/peer"
)

// Groups finds the groups a node serves. Implementations must be safe for
// concurrent use.
type Groups interface {
	// Group returns the group called name, or false.
	Group(name string) (*cache.Group, bool)
	// All returns every group, sorted by name.
	All() []*cache.Group
}

type cacheService struct {
	groups        Groups
	maxValueBytes int64
	maxBatchKeys  int
	pipeDepth     int
	limiter       *rateLimiter
	now           func() time.Time
}

var _ distcachev1connect.CacheServiceHandler = (*cacheService)(nil)

func (s *cacheService) group(name string) (*cache.Group, error) {
	g, ok := s.groups.Group(name)
	if !ok {
		return nil, errUnknownGroup(name)
	}
	return g, nil
}

// Get answers from the group, loading on a miss.
func (s *cacheService) Get(ctx context.Context, req *connect.Request[distcachev1.GetRequest]) (*connect.Response[distcachev1.GetResponse], error) {
	g, err := s.group(req.Msg.GetGroup())
	if err != nil {
		return nil, noStore(req.HTTPMethod(), err)
	}
	v, err := g.Get(ctx, req.Msg.GetKey())
	if err != nil {
		return nil, noStore(req.HTTPMethod(), errorFromCache(err))
	}
	res := connect.NewResponse(s.getResponse(v))
	if err := httpCaching(req.HTTPMethod(), req.Header(), res.Header(), v, s.now()); err != nil {
		return nil, err
	}
	return res, nil
}

// getResponse is the answer to a Get that found v.
func (s *cacheService) getResponse(v cache.Value) *distcachev1.GetResponse {
	res := &distcachev1.GetResponse{Value: v.Bytes, Source: distcachev1.Source(v.Source)}
	if !v.Expires.IsZero() {
		res.Ttl = durationpb.New(max(v.Expires.Sub(s.now()), 0))
	}
	return res
}

// Set checks the node's value limit, then stores the value.
func (s *cacheService) Set(ctx context.Context, req *connect.Request[distcachev1.SetRequest]) (*connect.Response[distcachev1.SetResponse], error) {
	if err := s.checkValue(req.Msg.GetValue()); err != nil {
		return nil, err
	}
	g, err := s.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.Set(ctx, req.Msg.GetKey(), req.Msg.GetValue(), peer.TTLOf(req.Msg.GetTtl())); err != nil {
		return nil, errorFromCache(err)
	}
	return connect.NewResponse(&distcachev1.SetResponse{}), nil
}

// checkValue refuses a value over the node's --max-value-bytes.
func (s *cacheService) checkValue(value []byte) error {
	if n := int64(len(value)); n > s.maxValueBytes {
		return fieldViolation(3, "value", descriptorpb.FieldDescriptorProto_TYPE_BYTES, "bytes.max_len",
			fmt.Sprintf("value length must be at most %d bytes (this node's --max-value-bytes), got %d", s.maxValueBytes, n))
	}
	return nil
}

// Delete removes the key from the group.
func (s *cacheService) Delete(ctx context.Context, req *connect.Request[distcachev1.DeleteRequest]) (*connect.Response[distcachev1.DeleteResponse], error) {
	g, err := s.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.Delete(ctx, req.Msg.GetKey()); err != nil {
		return nil, errorFromCache(err)
	}
	return connect.NewResponse(&distcachev1.DeleteResponse{}), nil
}
