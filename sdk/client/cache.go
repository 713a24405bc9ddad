package client

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// Value is a cached value as [Client.Get] returns it.
type Value struct {
	// Bytes is the value; it belongs to the caller.
	Bytes []byte
	// TTL is how long the entry has left on the node that answered; 0
	// means it never expires. An entry about to expire reports at least
	// 1ns, so that 0 keeps that meaning.
	TTL time.Duration
	// Source says where the value came from: "local" (the node's store),
	// "hot" (its copy of a key another node owns), "peer" (fetched from
	// the owner) or "loader" (loaded from the group's source just now).
	Source string
}

// A SetOption configures one [Client.Set].
type SetOption interface {
	applyToSet(*distcachev1.SetRequest)
}

type setOptionFunc func(*distcachev1.SetRequest)

func (f setOptionFunc) applyToSet(r *distcachev1.SetRequest) { f(r) }

// WithTTL sets how long the entry lives: 0 means it never expires, and
// the server accepts up to 365 days. Without WithTTL the entry gets its
// group's configured ttl.
func WithTTL(d time.Duration) SetOption {
	return setOptionFunc(func(r *distcachev1.SetRequest) { r.Ttl = durationpb.New(d) })
}

// Get returns the value of key in group, which the node loads from the
// group's source on a miss. A key the source does not have, or a group
// no node serves, is [ErrNotFound].
func (c *Client) Get(ctx context.Context, group, key string) (Value, error) {
	req := &distcachev1.GetRequest{Group: group, Key: key}
	var res *distcachev1.GetResponse
	err := c.callKey(ctx, key, func(ctx context.Context, e *endpoint) error {
		r, err := e.cache.Get(ctx, connect.NewRequest(req))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return Value{}, wrapError("get", group, key, err)
	}
	return valueOf(res), nil
}

func valueOf(res *distcachev1.GetResponse) Value {
	v := Value{
		Bytes:  res.GetValue(),
		Source: strings.ToLower(strings.TrimPrefix(res.GetSource().String(), "SOURCE_")),
	}
	if res.GetTtl() != nil {
		v.TTL = max(res.GetTtl().AsDuration(), time.Nanosecond)
	}
	return v
}

// GetString is [Client.Get] for a value that is text.
func (c *Client) GetString(ctx context.Context, group, key string) (string, error) {
	v, err := c.Get(ctx, group, key)
	return string(v.Bytes), err
}

// Set stores value under key in group; a write-through group writes it to
// its source before Set returns. Set does not keep value.
func (c *Client) Set(ctx context.Context, group, key string, value []byte, opts ...SetOption) error {
	req := &distcachev1.SetRequest{Group: group, Key: key, Value: value}
	for _, o := range opts {
		o.applyToSet(req)
	}
	err := c.callKey(ctx, key, func(ctx context.Context, e *endpoint) error {
		_, err := e.cache.Set(ctx, connect.NewRequest(req))
		return err
	})
	return wrapError("set", group, key, err)
}

// SetString is [Client.Set] for a value that is text.
func (c *Client) SetString(ctx context.Context, group, key, value string, opts ...SetOption) error {
	return c.Set(ctx, group, key, []byte(value), opts...)
}

// Delete removes key from group (and from a write-through group's
// source). Deleting a missing key succeeds; an unknown group is
// [ErrNotFound].
func (c *Client) Delete(ctx context.Context, group, key string) error {
	req := &distcachev1.DeleteRequest{Group: group, Key: key}
	err := c.callKey(ctx, key, func(ctx context.Context, e *endpoint) error {
		_, err := e.cache.Delete(ctx, connect.NewRequest(req))
		return err
	})
	return wrapError("delete", group, key, err)
}
