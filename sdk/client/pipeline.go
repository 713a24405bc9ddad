package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// ErrPipelineClosed is the error of a call made on, or still waiting on,
// a [Pipeline] that was closed or whose stream broke.
var ErrPipelineClosed = errors.New("distcache: pipeline closed")

// Pipeline sends Get, Set and Delete calls to one node over one stream
// (the Pipeline RPC), without waiting for each answer before sending the
// next. The node runs a bounded number of them at once and answers each
// as soon as it is done, so answers may arrive in another order than the
// calls; calls on one key that must apply in order should wait for the
// earlier one's answer. It needs HTTP/2, which the client's transport
// speaks in every protocol. Calls are not retried and not routed to
// owners: the node forwards them. It is safe for concurrent use; Close it
// when done.
type Pipeline struct {
	stream *connect.BidiStreamForClient[distcachev1.PipelineRequest, distcachev1.PipelineResponse]
	done   chan struct{} // closed when the receiver exits

	sendMu sync.Mutex // guards the stream's Send side

	mu      sync.Mutex // guards the fields below; never held across Send
	next    uint64
	pending map[uint64]*Call
	err     error // why the pipeline ended, once it did
}

// Call is one call of a [Pipeline]: its answer, once Done is closed.
type Call struct {
	op, group, key string
	done           chan struct{}
	value          Value
	err            error
}

// Done is closed when the call has its answer.
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait waits for the answer, or for ctx, and returns it: the value of a
// Get (zero for a Set or Delete) and the error the unary call would have
// returned.
func (c *Call) Wait(ctx context.Context) (Value, error) {
	select {
	case <-c.done:
		return c.value, c.err
	case <-ctx.Done():
		return Value{}, ctx.Err()
	}
}

// Pipeline opens a pipeline to the next node, round robin. ctx bounds the
// whole stream: when it is done, the stream ends and waiting calls fail.
func (c *Client) Pipeline(ctx context.Context) *Pipeline {
	e := c.endpoints[(c.next.Add(1)-1)%uint64(len(c.endpoints))]
	p := &Pipeline{
		stream:  e.cache.Pipeline(ctx),
		done:    make(chan struct{}),
		pending: map[uint64]*Call{},
	}
	go p.receive()
	return p
}

// Get sends a Get of key in group and returns its call at once.
func (p *Pipeline) Get(group, key string) *Call {
	return p.send("get", group, key, &distcachev1.PipelineRequest{Call: &distcachev1.PipelineRequest_Get{
		Get: &distcachev1.GetRequest{Group: group, Key: key}}})
}

// Set sends a Set of key in group and returns its call at once. The
// pipeline does not keep value past the call to Set.
func (p *Pipeline) Set(group, key string, value []byte, opts ...SetOption) *Call {
	req := &distcachev1.SetRequest{Group: group, Key: key, Value: value}
	for _, o := range opts {
		o.applyToSet(req)
	}
	return p.send("set", group, key, &distcachev1.PipelineRequest{Call: &distcachev1.PipelineRequest_Set{Set: req}})
}

// Delete sends a Delete of key in group and returns its call at once.
func (p *Pipeline) Delete(group, key string) *Call {
	return p.send("delete", group, key, &distcachev1.PipelineRequest{Call: &distcachev1.PipelineRequest_Delete{
		Delete: &distcachev1.DeleteRequest{Group: group, Key: key}}})
}

func (p *Pipeline) send(op, group, key string, req *distcachev1.PipelineRequest) *Call {
	call := &Call{op: op, group: group, key: key, done: make(chan struct{})}
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		call.finish(Value{}, p.err)
		return call
	}
	p.next++
	req.Id = p.next
	p.pending[req.Id] = call
	p.mu.Unlock()
	// Send may wait for the node to read; the receiver keeps taking
	// answers meanwhile, so the node's workers never wait on us.
	// If the stream broke, Send fails and the receiver fails the calls
	// still pending, this one among them, with the reason.
	p.sendMu.Lock()
	_ = p.stream.Send(req)
	p.sendMu.Unlock()
	return call
}

func (c *Call) finish(v Value, err error) {
	c.value = v
	if err != nil {
		c.err = wrapError(c.op, c.group, c.key, err)
	}
	close(c.done)
}

// receive hands each answer to its call until the stream ends, then fails
// the calls still waiting.
func (p *Pipeline) receive() {
	defer close(p.done)
	for {
		res, err := p.stream.Receive()
		if err != nil {
			p.mu.Lock()
			p.err = fmt.Errorf("%w: %w", ErrPipelineClosed, err)
			pending := p.pending
			p.pending = nil
			p.mu.Unlock()
			for _, call := range pending {
				call.finish(Value{}, p.err)
			}
			return
		}
		p.mu.Lock()
		call := p.pending[res.GetId()]
		delete(p.pending, res.GetId())
		p.mu.Unlock()
		if call == nil {
			continue
		}
		switch {
		case res.GetError() != nil:
			call.finish(Value{}, keyError(res.GetError()))
		case res.GetGet() != nil:
			call.finish(valueOf(res.GetGet()), nil)
		default:
			call.finish(Value{}, nil)
		}
	}
}

// Close ends the pipeline: it stops sending, waits for the answers of the
// calls already sent, and closes the stream. Calls made after Close fail
// with [ErrPipelineClosed]. It returns nil after a clean end.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.err == nil {
		p.err = ErrPipelineClosed
	}
	p.mu.Unlock()
	p.sendMu.Lock()
	err := p.stream.CloseRequest()
	p.sendMu.Unlock()
	<-p.done
	if cerr := p.stream.CloseResponse(); err == nil {
		err = cerr
	}
	return err
}
