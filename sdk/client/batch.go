package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// Result is one key's answer in [Client.GetMany]: its value, or the error
// [Client.Get] would have returned for it ([ErrNotFound] for a missing
// key, tested with errors.Is; connect.CodeOf works on every error).
type Result struct {
	Value Value
	Err   error
}

// Entry is one write of [Client.SetMany]. TTL is as [WithTTL]'s (0:
// never expires), used only when HasTTL is set; otherwise the entry gets
// its group's ttl. SetMany does not keep Value.
type Entry struct {
	Key    string
	Value  []byte
	TTL    time.Duration
	HasTTL bool
}

// GetMany gets keys of group in one call and answers each key on its own,
// in order. The node fans the keys out to their owners (one call per
// owner); with [WithOwnerRouting] the client first splits the keys by
// owner and calls each owner directly, in parallel. A batch that failed
// as a whole (an unknown group, more keys than the node's
// --max-batch-keys, no node reachable) is the error, with no results;
// with owner routing, a part that failed as a whole fails its own keys. A
// key that failed with unavailable is retried with the other such keys on
// the next node, as [Client.Get] retries.
func (c *Client) GetMany(ctx context.Context, group string, keys []string) ([]Result, error) {
	out := make([]Result, len(keys))
	err := c.batch(ctx, keys, func(ctx context.Context, e *endpoint, idx []int) ([]error, error) {
		req := &distcachev1.GetManyRequest{Group: group, Keys: pick(keys, idx)}
		res, err := e.cache.GetMany(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		rs := res.Msg.GetResults()
		if len(rs) != len(idx) {
			return nil, errCount(len(rs), len(idx))
		}
		errs := make([]error, len(idx))
		for j, r := range rs {
			i := idx[j]
			if ke := r.GetError(); ke != nil {
				errs[j] = keyError(ke)
				out[i] = Result{Err: wrapError("get", group, keys[i], errs[j])}
				continue
			}
			out[i] = Result{Value: valueOf(&distcachev1.GetResponse{Value: r.GetValue(), Ttl: r.GetTtl(), Source: r.GetSource()})}
		}
		return errs, nil
	}, func(i int, err error) { out[i] = Result{Err: wrapError("get", group, keys[i], err)} })
	if err != nil {
		return nil, wrapError("get many", group, "", err)
	}
	return out, nil
}

// SetMany stores entries in group in one call, each as [Client.Set] would,
// and returns each entry's error (nil: stored), in order, sent and
// retried as [Client.GetMany] sends its keys. The entries are applied
// concurrently: a key given twice ends with either value.
func (c *Client) SetMany(ctx context.Context, group string, entries []Entry) ([]error, error) {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	out := make([]error, len(entries))
	err := c.batch(ctx, keys, func(ctx context.Context, e *endpoint, idx []int) ([]error, error) {
		req := &distcachev1.SetManyRequest{Group: group, Entries: make([]*distcachev1.SetEntry, len(idx))}
		for j, i := range idx {
			req.Entries[j] = &distcachev1.SetEntry{Key: entries[i].Key, Value: entries[i].Value}
			if entries[i].HasTTL {
				req.Entries[j].Ttl = durationpb.New(entries[i].TTL)
			}
		}
		res, err := e.cache.SetMany(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return writeErrors(res.Msg.GetResults(), idx, out, "set", group, keys)
	}, func(i int, err error) { out[i] = wrapError("set", group, keys[i], err) })
	if err != nil {
		return nil, wrapError("set many", group, "", err)
	}
	return out, nil
}

// DeleteMany removes keys from group in one call, each as [Client.Delete]
// would, and returns each key's error (nil: deleted), in order, sent and
// retried as [Client.GetMany] sends its keys.
func (c *Client) DeleteMany(ctx context.Context, group string, keys []string) ([]error, error) {
	out := make([]error, len(keys))
	err := c.batch(ctx, keys, func(ctx context.Context, e *endpoint, idx []int) ([]error, error) {
		req := &distcachev1.DeleteManyRequest{Group: group, Keys: pick(keys, idx)}
		res, err := e.cache.DeleteMany(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return writeErrors(res.Msg.GetResults(), idx, out, "delete", group, keys)
	}, func(i int, err error) { out[i] = wrapError("delete", group, keys[i], err) })
	if err != nil {
		return nil, wrapError("delete many", group, "", err)
	}
	return out, nil
}

func writeErrors(rs []*distcachev1.WriteResult, idx []int, out []error, op, group string, keys []string) ([]error, error) {
	if len(rs) != len(idx) {
		return nil, errCount(len(rs), len(idx))
	}
	errs := make([]error, len(idx))
	for j, r := range rs {
		if ke := r.GetError(); ke != nil {
			errs[j] = keyError(ke)
			out[idx[j]] = wrapError(op, group, keys[idx[j]], errs[j])
		} else {
			out[idx[j]] = nil
		}
	}
	return errs, nil
}

// batchCall makes one attempt of a batch call on e for the keys at idx
// and returns each key's error (nil: answered for good), or the whole
// call's error.
type batchCall func(ctx context.Context, e *endpoint, idx []int) ([]error, error)

// batch runs a batch call on keys: split by owner with owner routing, one
// part per owner in parallel; each part retried on the policy's terms
// while the call fails as a whole, or some keys fail with a retryable
// error (then only those keys are sent again). failed records a part's
// whole-call error on each of its keys. batch returns an error only when
// every part failed as a whole: the first part's.
func (c *Client) batch(ctx context.Context, keys []string, call batchCall, failed func(i int, err error)) error {
	parts := c.partsByOwner(ctx, keys)
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for p, part := range parts {
		run := func() {
			pending := part.idx
			errs[p] = c.callFirst(ctx, part.first, func(ctx context.Context, e *endpoint) error {
				keyErrs, err := call(ctx, e, pending)
				if err != nil {
					return err
				}
				var retry []int
				var last error
				for j, kerr := range keyErrs {
					if kerr != nil && c.retryable(ctx, kerr) {
						retry, last = append(retry, pending[j]), kerr
					}
				}
				pending = retry
				return last // a per-key unavailable: retry those keys
			})
			if errs[p] != nil && len(pending) == len(part.idx) {
				for _, i := range part.idx {
					failed(i, errs[p])
				}
				return
			}
			errs[p] = nil // some keys were answered: the rest hold their own errors
		}
		if len(parts) == 1 {
			run()
		} else {
			wg.Go(run)
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// part is the keys of a batch sent to one first node.
type part struct {
	first *member // nil: round robin
	idx   []int
}

// partsByOwner splits keys by the member to try first: one part of all of
// them without owner routing.
func (c *Client) partsByOwner(ctx context.Context, keys []string) []part {
	all := make([]int, len(keys))
	for i := range all {
		all[i] = i
	}
	if c.router == nil || len(keys) == 0 {
		return []part{{idx: all}}
	}
	byOwner := map[*member]*part{}
	var parts []*part
	for i, k := range keys {
		m := c.router.owner(ctx, k)
		p := byOwner[m]
		if p == nil {
			p = &part{first: m}
			byOwner[m] = p
			parts = append(parts, p)
		}
		p.idx = append(p.idx, i)
	}
	out := make([]part, len(parts))
	for i, p := range parts {
		out[i] = *p
	}
	return out
}

func pick(keys []string, idx []int) []string {
	if len(idx) == len(keys) {
		return keys
	}
	out := make([]string, len(idx))
	for j, i := range idx {
		out[j] = keys[i]
	}
	return out
}

// keyError turns a per-key error of a batch or pipeline answer into the
// *connect.Error the single call would have returned.
func keyError(ke *distcachev1.KeyError) error {
	var code connect.Code
	if err := code.UnmarshalText([]byte(ke.GetCode())); err != nil {
		code = connect.CodeUnknown
	}
	cerr := connect.NewError(code, errors.New(ke.GetMessage()))
	if vs := ke.GetViolations(); len(vs) > 0 {
		if detail, err := connect.NewErrorDetail(validate.Violations_builder{Violations: vs}.Build()); err == nil {
			cerr.AddDetail(detail)
		}
	}
	return cerr
}

func errCount(got, want int) error {
	return connect.NewError(connect.CodeInternal, fmt.Errorf("the node answered %d results for %d keys", got, want))
}
