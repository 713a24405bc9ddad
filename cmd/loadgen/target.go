package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// target is a key-value store under load. Get and Set are safe for
// concurrent use; Close releases its connections.
type target interface {
	Get(ctx context.Context, key string) error
	Set(ctx context.Context, key string, value []byte) error
	// Batcher returns one caller's way of making a batched op (see
	// batchOps) with value for the writes.
	Batcher(ctx context.Context, op string, value []byte) (batcher, error)
	Close()
}

// newTarget returns a client of the node at baseURL speaking protocol,
// one of knownProtocols.
func newTarget(baseURL, group, protocol string) (target, error) {
	if protocol == "grpc-go" {
		return newGRPCGoTarget(baseURL, group)
	}
	return newDistcacheTarget(baseURL, group, protocol)
}

// distcacheTarget calls one node's CacheService in one protocol, over one
// HTTP/2 connection (h2c), as the Go client does.
type distcacheTarget struct {
	client   distcachev1connect.CacheServiceClient
	group    string
	protocol string
	tr       *http.Transport
}

var _ target = (*distcacheTarget)(nil)

// newDistcacheTarget returns a client of the node at baseURL speaking
// protocol, one of knownProtocols.
func newDistcacheTarget(baseURL, group, protocol string) (*distcacheTarget, error) {
	var opts []connect.ClientOption
	switch protocol {
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	case "connect":
	case "connect-json":
		opts = append(opts, connect.WithProtoJSON())
	default:
		return nil, fmt.Errorf("unknown protocol %q", protocol)
	}
	// Answers are not compressed, as Redis's are not: on loopback, gzip
	// of a batch's answer (over the node's 1 KiB threshold) costs the node
	// CPU and saves nothing.
	opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, Protocols: &protocols}
	client := distcachev1connect.NewCacheServiceClient(&http.Client{Transport: tr}, baseURL, opts...)
	return &distcacheTarget{client: client, group: group, protocol: protocol, tr: tr}, nil
}

func (d *distcacheTarget) Get(ctx context.Context, key string) error {
	_, err := d.client.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: d.group, Key: key}))
	return err
}

func (d *distcacheTarget) Set(ctx context.Context, key string, value []byte) error {
	_, err := d.client.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: d.group, Key: key, Value: value}))
	return err
}

func (d *distcacheTarget) Close() { d.tr.CloseIdleConnections() }

// redisTarget calls a Redis server with GET and SET, with one pooled
// connection per caller (Redis has no multiplexing).
type redisTarget struct {
	client *redis.Client
}

var _ target = (*redisTarget)(nil)

// newRedisTarget returns a client of the Redis at addr sized for callers.
func newRedisTarget(addr string, callers int) *redisTarget {
	return &redisTarget{client: redis.NewClient(&redis.Options{
		Addr:            addr,
		PoolSize:        callers,
		DisableIdentity: true,
		DialTimeout:     5 * time.Second,
	})}
}

func (r *redisTarget) Get(ctx context.Context, key string) error {
	return r.client.Get(ctx, key).Err()
}

func (r *redisTarget) Set(ctx context.Context, key string, value []byte) error {
	return r.client.Set(ctx, key, value, 0).Err()
}

func (r *redisTarget) Close() { r.client.Close() }
