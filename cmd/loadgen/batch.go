package main

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// batcher makes one caller's batched calls: Do sends keys as one batch
// and returns when every key is answered, with the first failure. Close
// releases what the caller held (a stream).
type batcher interface {
	Do(ctx context.Context, keys []string) error
	Close()
}

// batcherFunc is a batcher with nothing to release.
type batcherFunc func(ctx context.Context, keys []string) error

func (f batcherFunc) Do(ctx context.Context, keys []string) error { return f(ctx, keys) }
func (batcherFunc) Close()                                        {}

// Batcher implements target: getmany and setmany share the target's
// client; pipeline opens the caller's own stream, on which each Do sends
// its Gets before reading their answers.
func (d *distcacheTarget) Batcher(ctx context.Context, op string, value []byte) (batcher, error) {
	switch op {
	case "getmany":
		return batcherFunc(func(ctx context.Context, keys []string) error {
			res, err := d.client.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: d.group, Keys: keys}))
			if err != nil {
				return err
			}
			return firstKeyError(keys, res.Msg.GetResults())
		}), nil
	case "setmany":
		return batcherFunc(func(ctx context.Context, keys []string) error {
			res, err := d.client.SetMany(ctx, connect.NewRequest(setManyRequest(d.group, keys, value)))
			if err != nil {
				return err
			}
			return firstKeyError(keys, res.Msg.GetResults())
		}), nil
	case "pipeline":
		// The stream does not carry the cell's deadline (see
		// caller.loop): the caller closes it when the cell ends.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		return &pipeBatcher{stream: connectPipe{d.client.Pipeline(sctx)}, cancel: cancel, group: d.group}, nil
	}
	return nil, fmt.Errorf("op %q is not a batched op", op)
}

// firstKeyError returns the first key's error in a batch's results.
func firstKeyError[R interface{ GetError() *distcachev1.KeyError }](keys []string, results []R) error {
	for i, r := range results {
		if e := r.GetError(); e != nil {
			return fmt.Errorf("key %q: %s: %s", keys[i], e.GetCode(), e.GetMessage())
		}
	}
	return nil
}

// setManyRequest is a SetMany of keys, each to value.
func setManyRequest(group string, keys []string, value []byte) *distcachev1.SetManyRequest {
	req := &distcachev1.SetManyRequest{Group: group, Entries: make([]*distcachev1.SetEntry, len(keys))}
	for i, k := range keys {
		req.Entries[i] = &distcachev1.SetEntry{Key: k, Value: value}
	}
	return req
}

// pipeStream is a client's side of a Pipeline stream.
type pipeStream interface {
	Send(*distcachev1.PipelineRequest) error
	Receive() (*distcachev1.PipelineResponse, error)
	Close()
}

// connectPipe is connect-go's Pipeline stream.
type connectPipe struct {
	*connect.BidiStreamForClient[distcachev1.PipelineRequest, distcachev1.PipelineResponse]
}

func (c connectPipe) Close() {
	_ = c.CloseRequest()
	_ = c.CloseResponse()
}

// pipeBatcher is one caller's Pipeline stream.
type pipeBatcher struct {
	stream pipeStream
	cancel context.CancelFunc
	group  string
	next   uint64
	reqs   []*distcachev1.PipelineRequest
}

// Do sends a Get of each key, then reads as many answers. The stream's
// context, not ctx, bounds it.
func (p *pipeBatcher) Do(_ context.Context, keys []string) error {
	for len(p.reqs) < len(keys) {
		p.reqs = append(p.reqs, &distcachev1.PipelineRequest{Call: &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: p.group}}})
	}
	for i, k := range keys {
		p.next++
		req := p.reqs[i]
		req.Id = p.next
		req.GetGet().Key = k
		if err := p.stream.Send(req); err != nil {
			_, rerr := p.stream.Receive()
			return fmt.Errorf("pipeline send: %w (%w)", err, rerr)
		}
	}
	var first error
	for range keys {
		res, err := p.stream.Receive()
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		if e := res.GetError(); e != nil && first == nil {
			first = fmt.Errorf("pipeline id %d: %s: %s", res.GetId(), e.GetCode(), e.GetMessage())
		}
	}
	return first
}

func (p *pipeBatcher) Close() {
	p.stream.Close()
	p.cancel()
}

// Batcher implements target: every batched op is one go-redis pipeline
// of as many GETs (getmany, pipeline) or SETs (setmany), on the caller's
// pooled connection, as redis-benchmark -P sends its requests.
func (r *redisTarget) Batcher(_ context.Context, op string, value []byte) (batcher, error) {
	var add func(ctx context.Context, p redis.Pipeliner, key string)
	switch op {
	case "getmany", "pipeline":
		add = func(ctx context.Context, p redis.Pipeliner, key string) { p.Get(ctx, key) }
	case "setmany":
		add = func(ctx context.Context, p redis.Pipeliner, key string) { p.Set(ctx, key, value, 0) }
	default:
		return nil, fmt.Errorf("op %q is not a batched op", op)
	}
	return batcherFunc(func(ctx context.Context, keys []string) error {
		p := r.client.Pipeline()
		for _, k := range keys {
			add(ctx, p, k)
		}
		_, err := p.Exec(ctx)
		return err
	}), nil
}
