package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/cluster"
)

// ClusterConfig says how a node finds the others. With neither Etcd nor
// Peers the node runs alone.
type ClusterConfig struct {
	// NodeID is this node's stable identity (--node-id); empty means
	// Advertise.
	NodeID string
	// Advertise is the host:port other nodes reach this node at
	// (--advertise).
	Advertise string
	// Etcd lists etcd endpoints (--etcd); the node registers there under a
	// lease and watches the other members.
	Etcd []string
	// EtcdPrefix is where members register (default "/distcache/members/").
	EtcdPrefix string
	// LeaseTTL is the etcd lease's time to live (--lease-ttl, default 3s):
	// how soon a crashed node is dropped.
	LeaseTTL time.Duration
	// Peers is a static member list (--peers), each "host:port" or
	// "id=host:port"; used when Etcd is empty.
	Peers []string
	// Replicas is the ring's virtual nodes per member (default
	// cluster.DefaultReplicas).
	Replicas int
	// JoinTimeout bounds the first registration in etcd at start (default
	// 10s); past it the node stops with an error instead of waiting.
	JoinTimeout time.Duration
	// TLSCert and TLSKey, when set, make the node serve HTTPS and call its
	// peers over HTTPS; TLSCA, when set, is the CA bundle peers' certificates
	// are checked against (default: the system's).
	TLSCert, TLSKey, TLSCA string
}

// self is this node as a member.
func (c ClusterConfig) self() cluster.Member {
	id := c.NodeID
	if id == "" {
		id = c.Advertise
	}
	return cluster.Member{ID: id, Addr: c.Advertise, Since: time.Now()}
}

// staticPeers parses --peers.
func (c ClusterConfig) staticPeers() ([]cluster.Member, error) {
	var out []cluster.Member
	for _, p := range c.Peers {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, addr, ok := strings.Cut(p, "=")
		if !ok {
			id, addr = p, p
		}
		if !strings.Contains(addr, ":") {
			return nil, fmt.Errorf("--peers: %q is not host:port or id=host:port", p)
		}
		out = append(out, cluster.Member{ID: id, Addr: addr})
	}
	return out, nil
}

// tlsConfigs loads the serving and peer-calling TLS configurations, or
// returns nils when the node runs without TLS.
func (c ClusterConfig) tlsConfigs() (serve, peers *tls.Config, err error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		return nil, nil, nil
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return nil, nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	serve = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	peers = &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--tls-ca %s: no certificates in it", c.TLSCA)
		}
		peers.RootCAs = pool
	}
	return serve, peers, nil
}

// setupCluster makes the picker and the membership, and starts following
// the membership into the ring.
func (n *Node) setupCluster(ctx context.Context) error {
	c := n.cfg.Cluster
	serveTLS, peerTLS, err := c.tlsConfigs()
	if err != nil {
		return err
	}
	n.serveTLS = serveTLS
	client, err := cluster.NewPeerClient(cluster.ClientConfig{
		TLS: peerTLS, TracerProvider: n.tel.TracerProvider, Propagator: n.tel.Propagator,
	})
	if err != nil {
		return err
	}
	n.closers = append(n.closers, func() error { client.Close(); return nil })
	self := c.self()
	n.picker = cluster.NewPicker(self, client, c.Replicas)
	switch {
	case len(c.Etcd) > 0:
		if c.JoinTimeout <= 0 {
			c.JoinTimeout = 10 * time.Second
		}
		jctx, cancel := context.WithTimeout(ctx, c.JoinTimeout)
		defer cancel()
		e, err := cluster.NewEtcd(jctx, cluster.EtcdConfig{
			Endpoints: c.Etcd, Prefix: c.EtcdPrefix, Self: self, LeaseTTL: c.LeaseTTL, Logger: n.log,
		})
		if err != nil {
			return fmt.Errorf("--etcd %s: joining the cluster: %w", strings.Join(c.Etcd, ","), err)
		}
		n.member = e
	case len(c.Peers) > 0:
		peers, err := c.staticPeers()
		if err != nil {
			return err
		}
		n.member = cluster.Static(self, peers)
	default:
		n.member = cluster.Alone(self)
	}
	n.closers = append(n.closers, n.leave)
	n.followMembership()
	return nil
}

// followMembership rebuilds the ring on every membership change until the
// node closes.
func (n *Node) followMembership() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.member.Watch(ctx, func(ms []cluster.Member) {
			n.picker.Update(ms)
			n.log.Info("ring changed", "members", len(ms), "self", n.picker.Self())
		})
	}()
	n.closers = append(n.closers, func() error { cancel(); <-done; return nil })
}

// leave leaves the cluster (an etcd member revokes its lease, so the
// others drop it at once). It is safe to call more than once.
func (n *Node) leave() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return n.member.Close(ctx)
}

// Picker returns the node's view of the cluster.
func (n *Node) Picker() *cluster.Picker { return n.picker }

// peers is what the groups ask for owners: the picker in a cluster, and
// nobody for a node alone (which then keeps no hot copies).
func (n *Node) peers() cache.Peers {
	if len(n.cfg.Cluster.Etcd) == 0 && len(n.cfg.Cluster.Peers) == 0 {
		return cache.NoPeers
	}
	return n.picker
}
