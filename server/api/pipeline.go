package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

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

// Pipeline runs the stream's calls, each exactly as its unary call
// (validation, scope and rate limit, then the same handler), and answers
// each with its request's id as soon as it is done. A Get the node can
// answer from its store or a hot copy is answered at once; the other
// calls run on up to the pipeline depth of workers. A call that fails is
// answered with its error; only a broken stream (such as a message over
// the size limit) ends it. Answers ready together go out in one write.
func (s *cacheService) Pipeline(ctx context.Context, stream *connect.BidiStream[distcachev1.PipelineRequest, distcachev1.PipelineResponse]) error {
	p := &pipeline{s: s, ctx: ctx, stream: stream, out: make(chan *distcachev1.PipelineResponse, s.pipeDepth)}
	lf, _ := ctx.Value(lazyFlushKey{}).(*lazyFlusher)
	if lf != nil {
		lf.deferring.Store(true)
	}
	sent := make(chan struct{})
	go p.sendLoop(lf, sent)
	jobs := make(chan *distcachev1.PipelineRequest)
	var wg sync.WaitGroup
	defer func() {
		close(jobs)
		wg.Wait()
		close(p.out)
		<-sent
		if lf != nil {
			lf.deferring.Store(false) // connect flushes the trailers for real
		}
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
		if res := p.quick(req); res != nil {
			p.out <- res
			continue
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
	out    chan *distcachev1.PipelineResponse // answers for sendLoop
}

// sendLoop sends the answers until out is closed, and flushes when no
// answer is waiting, so a burst of answers costs one write. After a
// failed Send (the client is gone) it keeps draining out, so that no
// worker waits on it.
func (p *pipeline) sendLoop(lf *lazyFlusher, done chan<- struct{}) {
	defer close(done)
	for res := range p.out {
		_ = p.stream.Send(res)
		for more := true; more; {
			select {
			case res, ok := <-p.out:
				if !ok {
					more = false
					break
				}
				_ = p.stream.Send(res)
			default:
				more = false
			}
		}
		if lf != nil {
			lf.flush()
		}
	}
}

// work answers req, then every request it takes from jobs until jobs is
// closed. Workers stay for the stream's life, so a busy stream does not
// start a goroutine per call.
func (p *pipeline) work(req *distcachev1.PipelineRequest, jobs <-chan *distcachev1.PipelineRequest) {
	for ok := true; ok; req, ok = <-jobs {
		p.out <- p.answer(req)
	}
}

// quick answers req at once if it can without blocking: a call refused by
// its checks, or a Get the node answers from its store or a hot copy. It
// returns nil when a worker must run the call.
func (p *pipeline) quick(req *distcachev1.PipelineRequest) *distcachev1.PipelineResponse {
	if err := p.admit(req); err != nil {
		return &distcachev1.PipelineResponse{Id: req.GetId(), Error: peer.KeyErrorOf(err)}
	}
	get := req.GetGet()
	if get == nil {
		return nil
	}
	g, ok := p.s.groups.Group(get.GetGroup())
	if !ok {
		return nil
	}
	v, err, hit := g.GetCached(get.GetKey())
	switch {
	case !hit:
		return nil
	case err != nil:
		return &distcachev1.PipelineResponse{Id: req.GetId(), Error: peer.KeyErrorOf(errorFromCache(err))}
	}
	return &distcachev1.PipelineResponse{Id: req.GetId(), Result: &distcachev1.PipelineResponse_Get{Get: p.s.getResponse(v)}}
}

// answer runs one admitted call through its unary handler.
func (p *pipeline) answer(req *distcachev1.PipelineRequest) *distcachev1.PipelineResponse {
	res := &distcachev1.PipelineResponse{Id: req.GetId()}
	var err error
	switch c := req.GetCall().(type) {
	case *distcachev1.PipelineRequest_Get:
		var r *connect.Response[distcachev1.GetResponse]
		if r, err = p.s.Get(p.ctx, connect.NewRequest(c.Get)); err == nil {
			res.Result = &distcachev1.PipelineResponse_Get{Get: r.Msg}
		}
	case *distcachev1.PipelineRequest_Set:
		if _, err = p.s.Set(p.ctx, connect.NewRequest(c.Set)); err == nil {
			res.Result = &distcachev1.PipelineResponse_Set{Set: &distcachev1.SetResponse{}}
		}
	case *distcachev1.PipelineRequest_Delete:
		if _, err = p.s.Delete(p.ctx, connect.NewRequest(c.Delete)); err == nil {
			res.Result = &distcachev1.PipelineResponse_Delete{Delete: &distcachev1.DeleteResponse{}}
		}
	}
	res.Error = peer.KeyErrorOf(err)
	return res
}

// admit checks a call as the interceptors check its unary twin: its
// request's rules, the token's scope, the group's rate limit.
func (p *pipeline) admit(req *distcachev1.PipelineRequest) error {
	var (
		procedure string
		need      Scope
		msg       proto.Message
		ok        bool
	)
	switch c := req.GetCall().(type) {
	case *distcachev1.PipelineRequest_Get:
		procedure, need, msg, ok = distcachev1connect.CacheServiceGetProcedure, ScopeRead, c.Get, groupOK(c.Get.GetGroup()) && keyOK(c.Get.GetKey())
	case *distcachev1.PipelineRequest_Set:
		procedure, need, msg, ok = distcachev1connect.CacheServiceSetProcedure, ScopeWrite, c.Set, setOK(c.Set)
	case *distcachev1.PipelineRequest_Delete:
		procedure, need, msg, ok = distcachev1connect.CacheServiceDeleteProcedure, ScopeWrite, c.Delete, groupOK(c.Delete.GetGroup()) && keyOK(c.Delete.GetKey())
	default:
		return connect.NewError(connect.CodeInvalidArgument, errors.New("a pipeline request needs one call: get, set or delete"))
	}
	if !ok {
		if err := validationError(msg); err != nil {
			return err
		}
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

// lazyFlushKey is the context key of a pipeline's [lazyFlusher].
type lazyFlushKey struct{}

// lazyFlusher wraps a pipeline's ResponseWriter. Connect flushes after
// every message it sends, which costs a write (and, over HTTP/2, a hand-off
// to the connection's goroutine) per answer; while deferring, Flush does
// nothing, and the pipeline's sender flushes once no answer is waiting.
type lazyFlusher struct {
	http.ResponseWriter
	deferring atomic.Bool
}

// withLazyFlush serves a pipeline request through a lazyFlusher, which
// the handler finds in the request's context.
func withLazyFlush(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lf := &lazyFlusher{ResponseWriter: w}
		h.ServeHTTP(lf, r.WithContext(context.WithValue(r.Context(), lazyFlushKey{}, lf)))
	})
}

// Flush flushes unless the pipeline defers it.
func (w *lazyFlusher) Flush() {
	if !w.deferring.Load() {
		w.flush()
	}
}

func (w *lazyFlusher) flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *lazyFlusher) Unwrap() http.ResponseWriter { return w.ResponseWriter }
