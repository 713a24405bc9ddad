package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/peer"
)

// DefaultPipelineDepth is how many calls of one Pipeline stream a node
// runs at once when [Config.PipelineDepth] is zero; the node reads no
// further request from the stream until one of them is answered.
const DefaultPipelineDepth = 64

// Pipeline runs the stream's calls, up to the node's pipeline depth at
// once, each exactly as its unary call (validation, scope, rate limit,
// then the same handler), and answers each with its request's id as soon
// as it is done. A call that fails is answered with its error; only a
// broken stream (such as a message over the size limit) ends it.
func (s *cacheService) Pipeline(ctx context.Context, stream *connect.BidiStream[distcachev1.PipelineRequest, distcachev1.PipelineResponse]) error {
	p := &pipeline{s: s, ctx: ctx, stream: stream}
	jobs := make(chan *distcachev1.PipelineRequest)
	var wg sync.WaitGroup
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	workers := 0
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case jobs <- req: // an idle worker took it
			continue
		default:
		}
		if workers < s.pipeDepth {
			workers++
			wg.Go(func() { p.work(req, jobs) })
			continue
		}
		select {
		case jobs <- req:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pipeline is one Pipeline stream being served.
type pipeline struct {
	s      *cacheService
	ctx    context.Context
	stream *connect.BidiStream[distcachev1.PipelineRequest, distcachev1.PipelineResponse]
	sendMu sync.Mutex
}

// work answers req, then every request it takes from jobs until jobs is
// closed. Workers stay for the stream's life, so a busy stream does not
// start a goroutine per call.
func (p *pipeline) work(req *distcachev1.PipelineRequest, jobs <-chan *distcachev1.PipelineRequest) {
	for ok := true; ok; req, ok = <-jobs {
		res := p.answer(req)
		p.sendMu.Lock()
		// A failed Send means the client is gone; Receive sees it too.
		_ = p.stream.Send(res)
		p.sendMu.Unlock()
	}
}

// answer runs one call.
func (p *pipeline) answer(req *distcachev1.PipelineRequest) *distcachev1.PipelineResponse {
	res := &distcachev1.PipelineResponse{Id: req.GetId()}
	var err error
	switch c := req.GetCall().(type) {
	case *distcachev1.PipelineRequest_Get:
		if err = p.admit(distcachev1connect.CacheServiceGetProcedure, ScopeRead, c.Get); err == nil {
			var r *connect.Response[distcachev1.GetResponse]
			if r, err = p.s.Get(p.ctx, connect.NewRequest(c.Get)); err == nil {
				res.Result = &distcachev1.PipelineResponse_Get{Get: r.Msg}
			}
		}
	case *distcachev1.PipelineRequest_Set:
		if err = p.admit(distcachev1connect.CacheServiceSetProcedure, ScopeWrite, c.Set); err == nil {
			if _, err = p.s.Set(p.ctx, connect.NewRequest(c.Set)); err == nil {
				res.Result = &distcachev1.PipelineResponse_Set{Set: &distcachev1.SetResponse{}}
			}
		}
	case *distcachev1.PipelineRequest_Delete:
		if err = p.admit(distcachev1connect.CacheServiceDeleteProcedure, ScopeWrite, c.Delete); err == nil {
			if _, err = p.s.Delete(p.ctx, connect.NewRequest(c.Delete)); err == nil {
				res.Result = &distcachev1.PipelineResponse_Delete{Delete: &distcachev1.DeleteResponse{}}
			}
		}
	default:
		err = connect.NewError(connect.CodeInvalidArgument, errors.New("a pipeline request needs one call: get, set or delete"))
	}
	res.Error = peer.KeyErrorOf(err)
	return res
}

// admit checks a call as the interceptors check its unary twin: its
// request's rules, the token's scope, the group's rate limit.
func (p *pipeline) admit(procedure string, need Scope, msg proto.Message) error {
	if err := validationError(msg); err != nil {
		return err
	}
	if scopes, guarded := p.ctx.Value(scopesKey{}).([]Scope); guarded && !slices.Contains(scopes, need) {
		return connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("%s needs scope %s; this token has %v", procedure, need, scopes))
	}
	if p.s.limiter != nil {
		return p.s.limiter.check(p.ctx, procedure, p.stream.RequestHeader(), p.stream.Peer().Addr, msg)
	}
	return nil
}
