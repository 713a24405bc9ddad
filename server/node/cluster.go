package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/distcache/distcache/sdk/client/ring"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/cluster"
	"github.com/distcache/distcache/server/membership"
	"github.com/distcache/distcache/server/peer"
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
	// Secret is the cluster secret (--cluster-secret): every node of the
	// cluster is started with the same one; peer calls without it are
	// refused. A clustered node needs one.
	Secret string
	// SharedDB says every node uses the same SQLite file (--shared-db), so
	// write-through groups write one set of rows whichever node owns a
	// key. Without it a clustered node refuses write-through groups.
	SharedDB bool
	// PeerTimeout bounds one peer read or replication call (--peer-timeout,
	// default peer.DefaultPeerTimeout).
	PeerTimeout time.Duration
	// TLSCert and TLSKey, when set, make the node serve HTTPS and call its
	// peers over HTTPS; TLSCA, when set, is the CA bundle peers' certificates
	// are checked against (default: the system's).
	TLSCert, TLSKey, TLSCA string
	// ClientCA, when set with TLSCert, makes the port require a client
	// certificate signed by it (mutual TLS); peers then present their own
	// certificate (TLSCert) when they call.
	ClientCA string
}

// self is this node as a member, with the ring parameters it places keys
// with.
func (c ClusterConfig) self() cluster.Member {
	id := c.NodeID
	if id == "" {
		id = c.Advertise
	}
	vnodes := c.Replicas
	if vnodes <= 0 {
		vnodes = cluster.DefaultReplicas
	}
	return cluster.Member{ID: id, Addr: c.Advertise, Since: time.Now(), VNodes: vnodes, Hash: ring.HashVersion}
}

// clustered reports whether the node runs with others.
func (c ClusterConfig) clustered() bool { return len(c.Etcd) > 0 || len(c.Peers) > 0 }

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
		if c.ClientCA != "" {
			return nil, nil, errors.New("--client-ca needs --tls-cert and --tls-key")
		}
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
	if c.ClientCA != "" {
		pool, err := loadPool("--client-ca", c.ClientCA)
		if err != nil {
			return nil, nil, err
		}
		serve.ClientAuth, serve.ClientCAs = tls.RequireAndVerifyClientCert, pool
		peers.Certificates = []tls.Certificate{cert}
	}
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

// loadPool reads a PEM bundle of CA certificates for flag.
func loadPool(flag, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no certificates in it", flag, path)
	}
	return pool, nil
}

// setupCluster makes the picker and the membership, and starts following
// the membership into the ring.
func (n *Node) setupCluster(ctx context.Context) error {
	c := n.cfg.Cluster
	if c.clustered() && c.Secret == "" {
		return errors.New("--cluster-secret is required with --etcd or --peers: every node of the cluster " +
			"shares one secret, and peer calls without it are refused (so no client can write \"as owner\")")
	}
	serveTLS, peerTLS, err := c.tlsConfigs()
	if err != nil {
		return err
	}
	n.serveTLS = serveTLS
	client, err := peer.NewClient(peer.Config{
		TLS: peerTLS, TracerProvider: n.tel.TracerProvider, Propagator: n.tel.Propagator,
		Timeout: c.PeerTimeout, Secret: c.Secret,
	})
	if err != nil {
		return err
	}
	n.closers = append(n.closers, func() error { client.Close(); return nil })
	n.peerClient = client
	self := c.self()
	n.picker = cluster.NewPicker(self, client, c.Replicas)
	switch {
	case len(c.Etcd) > 0:
		if c.JoinTimeout <= 0 {
			c.JoinTimeout = 10 * time.Second
		}
		jctx, cancel := context.WithTimeout(ctx, c.JoinTimeout)
		defer cancel()
		e, err := membership.NewEtcd(jctx, membership.EtcdConfig{
			Endpoints: c.Etcd, Prefix: c.EtcdPrefix, Self: self, LeaseTTL: c.LeaseTTL, Logger: n.log,
		})
		if err != nil {
			return fmt.Errorf("--etcd %s: joining the cluster: %w", strings.Join(c.Etcd, ","), err)
		}
		n.member = e
		n.picker.SetCertainty(e.Fresh)
	case len(c.Peers) > 0:
		peers, err := c.staticPeers()
		if err != nil {
			return err
		}
		n.member = membership.Static(self, peers)
	default:
		n.member = membership.Alone(self)
	}
	n.closers = append(n.closers, n.leave)
	n.followMembership(client, len(c.Etcd) > 0)
	return nil
}

// followMembership rebuilds the ring on every membership change until the
// node closes. Members whose ring parameters differ from this node's are
// refused (logged, left out of the ring). With etcd, a member whose record
// vanished but that still answers SERVING is kept for now: when etcd
// expires every lease at once (after an outage or a pause), the nodes
// re-register within moments, and dropping them all meanwhile would make
// every node the owner of every key.
func (n *Node) followMembership(client *peer.Client, probe bool) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	f := &follower{n: n, client: client, probe: probe, ghosts: map[string]cluster.Member{}}
	wg.Go(func() {
		_ = n.member.Watch(ctx, func(ms []cluster.Member) { f.listed(ctx, ms) })
	})
	if probe {
		wg.Go(func() { f.recheck(ctx) })
	}
	n.closers = append(n.closers, func() error { cancel(); wg.Wait(); return nil })
}

// ghostCheckEvery is how often members kept without a record are asked
// again whether they serve.
const ghostCheckEvery = 500 * time.Millisecond

// follower turns membership lists into the picker's ring.
type follower struct {
	n      *Node
	client *peer.Client
	probe  bool

	mu      sync.Mutex
	last    []cluster.Member          // the membership's last list
	ghosts  map[string]cluster.Member // members kept without a record
	refused map[string]bool           // members refused, logged once
}

// listed takes a new list from the membership.
func (f *follower) listed(ctx context.Context, ms []cluster.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	self := f.n.picker.Ring()
	ms = f.compatible(ms)
	if f.probe {
		in := map[string]bool{}
		for _, m := range ms {
			in[m.ID] = true
			delete(f.ghosts, m.ID)
		}
		var gone []cluster.Member
		for _, m := range self.Members() {
			if !in[m.ID] && m.ID != f.n.picker.Self() {
				gone = append(gone, m)
			}
		}
		for _, m := range f.alive(ctx, gone) {
			f.ghosts[m.ID] = m
			f.n.log.Warn("member's record is gone but it still serves; keeping it until it registers again or stops answering", "member", m.ID)
		}
	}
	f.last = ms
	f.update()
}

// recheck drops ghosts that stopped answering, until ctx is done.
func (f *follower) recheck(ctx context.Context) {
	t := time.NewTicker(ghostCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		if len(f.ghosts) > 0 {
			var gs []cluster.Member
			for _, m := range f.ghosts {
				gs = append(gs, m)
			}
			alive := map[string]bool{}
			for _, m := range f.alive(ctx, gs) {
				alive[m.ID] = true
			}
			for _, m := range gs {
				if !alive[m.ID] {
					delete(f.ghosts, m.ID)
					f.n.log.Info("member without a record stopped serving; dropping it", "member", m.ID)
				}
			}
			f.update()
		}
		f.mu.Unlock()
	}
}

// alive returns the members of ms that answer SERVING, asking all at once.
func (f *follower) alive(ctx context.Context, ms []cluster.Member) []cluster.Member {
	ok := make([]bool, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() { ok[i] = f.client.Alive(ctx, m.Addr) })
	}
	wg.Wait()
	var out []cluster.Member
	for i, m := range ms {
		if ok[i] {
			out = append(out, m)
		}
	}
	return out
}

// compatible drops, and logs once, members whose ring parameters differ.
func (f *follower) compatible(ms []cluster.Member) []cluster.Member {
	self := f.n.cfg.Cluster.self()
	out := ms[:0]
	for _, m := range ms {
		if err := m.Compatible(self); err != nil {
			if f.refused == nil {
				f.refused = map[string]bool{}
			}
			if !f.refused[m.ID] {
				f.refused[m.ID] = true
				f.n.log.Error("refusing a member: its ring parameters differ", "member", m.ID, "err", err)
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// update gives the picker the listed members and the ghosts.
func (f *follower) update() {
	ms := slices.Clone(f.last)
	for _, g := range f.ghosts {
		ms = append(ms, g)
	}
	before := f.n.picker.Changes()
	f.n.picker.Update(ms)
	if f.n.picker.Changes() != before {
		f.n.log.Info("ring changed", "members", len(ms), "self", f.n.picker.Self())
	}
}

// startRebalancer runs the groups' Rebalance after every ring change, one
// run at a time (changes during a run cause one more run), at most
// rebalanceRate records a second, until the node closes.
func (n *Node) startRebalancer() {
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{}, 1)
	n.picker.OnChange(func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	limiter := rate.NewLimiter(rebalanceRate, rebalanceRate/10) // a burst holds many batches
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			start := time.Now()
			for _, g := range n.groups {
				handed, dropped := g.Rebalance(ctx, limiter.WaitN)
				if handed+dropped > 0 {
					n.log.Info("rebalanced after a ring change", "group", g.Name(), "handed_over", handed,
						"dropped", dropped, "took", time.Since(start).Round(time.Millisecond))
				}
			}
			n.rebalanced.Add(1)
		}
	}()
	n.closers = append(n.closers, func() error { cancel(); <-done; return nil })
}

// rebalanceRate bounds how many records a second a node sends to other
// nodes after a ring change.
const rebalanceRate = 50_000

// leave leaves the cluster (an etcd member revokes its lease, so the
// others drop it at once). It is safe to call more than once.
func (n *Node) leave() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return n.member.Close(ctx)
}

// Rebalanced returns how many rebalancing runs (one after each burst of
// ring changes) have finished.
func (n *Node) Rebalanced() int64 { return n.rebalanced.Load() }

// Picker returns the node's view of the cluster.
func (n *Node) Picker() *cluster.Picker { return n.picker }

// peers is what the groups ask for owners: the picker in a cluster, and
// nobody for a node alone (which then keeps no hot copies).
func (n *Node) peers() cache.Peers {
	if !n.cfg.Cluster.clustered() {
		return cache.NoPeers
	}
	return n.picker
}
