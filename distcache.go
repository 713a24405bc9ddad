// Package distcache runs a distcache node inside a Go process, the way
// groupcache runs inside one: groups whose misses a Go function loads,
// with the node's store, eviction policies, single-flight loads and
// membership, and, if the caller wants, the node's API on a listener it
// gives.
//
//	n, err := distcache.New(ctx, distcache.Options{
//		Groups: []distcache.Group{{
//			Name:       "users",
//			CacheBytes: 64 << 20,
//			TTL:        10 * time.Minute,
//			Getter: func(ctx context.Context, key string) ([]byte, error) {
//				return db.LoadUser(ctx, key) // distcache.ErrNotFound for a missing user
//			},
//		}},
//	})
//	if err != nil { ... }
//	defer n.Close()
//	v, err := n.Get(ctx, "users", "42")
//
// Nodes of several processes share one keyspace, as groupcache's peers
// do: give each its address (Self) and the others (Peers), or an etcd
// (Etcd), and a shared ClusterSecret, and serve the API on Self with
// [Node.Serve] so the others can reach it. Each key then has one owner,
// which loads it once; the others fetch it from the owner.
//
// The node speaks the same API as a standalone one, so clients, the web
// console and `distcache get` can call it when it serves.
package distcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/config"
	"github.com/distcache/distcache/server/node"
)

// ErrNotFound is what a [Getter] returns, possibly wrapped, for a key its
// source does not have, and what [Node.Get] returns for such a key (test
// with [errors.Is]).
var ErrNotFound = cache.ErrNotFound

// Forever, given to [Node.Set], keeps an entry until it is evicted or
// deleted, whatever its group's TTL.
const Forever time.Duration = -1

// A Getter loads the value of a key on a miss. A node calls it at most
// once at a time per key (single-flight), on the key's owner, with a
// context that carries the caller's deadline (bounded by the group's
// LoadTimeout) and trace. It returns [ErrNotFound] for a key its source
// does not have. It must be safe for concurrent use, and must not keep
// or change the bytes after returning them.
type Getter func(ctx context.Context, key string) ([]byte, error)

// Group is one cache group of an embedded node.
type Group struct {
	// Name names the group in calls: a lowercase letter, then up to 62
	// lowercase letters, digits, '_' or '-'. Required.
	Name string
	// CacheBytes bounds the bytes the group holds on this node (keys,
	// values and overhead); 0 means 64 MiB.
	CacheBytes int64
	// TTL is how long an entry lives; 0 means until evicted.
	TTL time.Duration
	// NegativeTTL is how long a Getter's ErrNotFound is remembered; 0
	// means it is not.
	NegativeTTL time.Duration
	// LoadTimeout bounds one Getter call; 0 means 10s.
	LoadTimeout time.Duration
	// Policy names the eviction policy: a built-in policy plugin ("lru",
	// "wtinylfu", "arc", "s3fifo", "sieve", "lfu", "fifo") or one in
	// PluginsDir; "" means "lru". Until the plugin is compiled the node's
	// native LRU serves.
	Policy string
	// Getter loads misses; nil means the group holds only what is Set.
	Getter Getter
}

// Options configure an embedded node.
type Options struct {
	// Groups are the node's groups; at least one.
	Groups []Group

	// Self is the address (host:port) other nodes reach this one at, and
	// the node's id; required with Peers or Etcd.
	Self string
	// Peers are the cluster's static members, each host:port (Self among
	// them or not).
	Peers []string
	// Etcd are etcd endpoints (host:port) through which the nodes find
	// each other instead of Peers.
	Etcd []string
	// ClusterSecret is the secret every node of the cluster shares, which
	// peer calls carry; required with Peers or Etcd.
	ClusterSecret string
	// PeerTimeout bounds one call to another node, a read or a
	// replication; a node that does not answer within it counts as
	// unreachable (reads go to replicas, writes fail as unavailable).
	// 0 means 500ms, the node's --peer-timeout default.
	PeerTimeout time.Duration

	// PluginsDir is a directory of plugin modules (.wasm) the node loads
	// and watches for new versions, beside the built-in ones; "" means
	// none.
	PluginsDir string
	// AdminToken guards the API's mutating admin calls when the node
	// serves; "" refuses them.
	AdminToken string
	// MaxValueBytes is the largest value a Set may carry; 0 means 1 MiB.
	MaxValueBytes int64
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
}

// Node is an embedded distcache node. It is safe for concurrent use.
type Node struct {
	n        *node.Node
	maxValue int64
}

// New starts a node with opts. A bad group or option is an error naming
// it; nothing is left running.
func New(ctx context.Context, opts Options) (*Node, error) {
	if len(opts.Groups) == 0 {
		return nil, errors.New("distcache: no groups")
	}
	file := &config.File{}
	loaders := map[string]cache.Loader{}
	for _, g := range opts.Groups {
		capacity := g.CacheBytes
		if capacity == 0 {
			capacity = 64 << 20
		}
		file.Groups = append(file.Groups, config.Group{
			Name: g.Name, Capacity: config.Bytes(capacity), TTL: config.Duration(g.TTL),
			NegativeTTL: config.Duration(g.NegativeTTL), LoadTimeout: config.Duration(g.LoadTimeout), Policy: g.Policy,
		})
		if g.Getter != nil {
			loaders[g.Name] = getterLoader(g.Getter)
		}
	}
	cfg := node.Config{
		File: file, Loaders: loaders, PluginsDir: opts.PluginsDir,
		AdminToken: opts.AdminToken, MaxValueBytes: opts.MaxValueBytes, Logger: opts.Logger,
	}
	if cfg.MaxValueBytes == 0 {
		cfg.MaxValueBytes = 1 << 20
	}
	if opts.PeerTimeout < 0 {
		return nil, fmt.Errorf("distcache: Options.PeerTimeout %v is negative", opts.PeerTimeout)
	}
	if len(opts.Peers) > 0 || len(opts.Etcd) > 0 {
		if opts.Self == "" {
			return nil, errors.New("distcache: Options.Self is required with Peers or Etcd")
		}
		cfg.Cluster.NodeID, cfg.Cluster.Advertise = opts.Self, opts.Self
		cfg.Cluster.Peers, cfg.Cluster.Etcd = opts.Peers, opts.Etcd
		cfg.Cluster.Secret = opts.ClusterSecret
		cfg.Cluster.PeerTimeout = opts.PeerTimeout
	}
	n, err := node.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("distcache: %w", err)
	}
	return &Node{n: n, maxValue: cfg.MaxValueBytes}, nil
}

// getterLoader adapts a Getter to the cache's loader.
func getterLoader(get Getter) cache.Loader {
	return cache.LoaderFunc(func(ctx context.Context, key string) (cache.Loaded, error) {
		v, err := get(ctx, key)
		if err != nil {
			return cache.Loaded{}, err
		}
		return cache.Loaded{Value: v}, nil
	})
}

// group returns the named group or an error wrapping ErrNotFound.
func (n *Node) group(name string) (*cache.Group, error) {
	g, ok := n.n.Group(name)
	if !ok {
		return nil, fmt.Errorf("distcache: unknown group %q: %w", name, ErrNotFound)
	}
	return g, nil
}

// Get returns the value of key in group: from this node's store, from the
// key's owner, or loaded by the group's Getter on the owner. The bytes
// belong to the caller. A key the Getter does not find, or an unknown
// group, is [ErrNotFound].
func (n *Node) Get(ctx context.Context, group, key string) ([]byte, error) {
	g, err := n.group(group)
	if err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := g.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(v.Bytes), nil
}

// Set stores value under key in group, on the key's owner (and its
// replicas), to live for ttl: 0 means the group's TTL, [Forever] until
// evicted. Set does not keep value.
func (n *Node) Set(ctx context.Context, group, key string, value []byte, ttl time.Duration) error {
	g, err := n.group(group)
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if int64(len(value)) > n.maxValue {
		return fmt.Errorf("distcache: value of %d bytes is over the limit of %d (Options.MaxValueBytes)", len(value), n.maxValue)
	}
	switch {
	case ttl == Forever:
		ttl = 0
	case ttl == 0:
		ttl = cache.GroupTTL
	case ttl < 0:
		return fmt.Errorf("distcache: negative ttl %v", ttl)
	}
	return g.Set(ctx, key, bytes.Clone(value), ttl)
}

// Delete removes key from group on every node that holds it. Deleting a
// missing key is not an error.
func (n *Node) Delete(ctx context.Context, group, key string) error {
	g, err := n.group(group)
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return g.Delete(ctx, key)
}

// checkKey checks key as the API does: UTF-8 text of 1 to 250 bytes.
func checkKey(key string) error {
	if len(key) == 0 || len(key) > 250 {
		return fmt.Errorf("distcache: key of %d bytes: want 1 to 250", len(key))
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("distcache: key %q is not valid UTF-8", key)
	}
	return nil
}

// Handler returns the node's API (CacheService, ClusterService,
// AdminService, health, reflection, /kv, /metrics, the console) as an
// http.Handler to mount on the caller's server; gRPC needs that server to
// speak HTTP/2 (h2c or TLS). Other nodes of a cluster reach this one
// through it, at Self.
func (n *Node) Handler() http.Handler { return n.n.Handler() }

// Serve serves the node's API on ln (HTTP/1.1, h2c, and gRPC's fast path)
// until ctx is done, then stops accepting and waits for calls in flight.
// It closes ln.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error { return n.n.Serve(ctx, ln) }

// Close leaves the cluster and releases the node. Call it after Serve
// has returned.
func (n *Node) Close() error { return n.n.Close() }
