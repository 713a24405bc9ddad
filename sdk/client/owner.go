package client

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/sdk/client/ring"
)

// defaultOwnerRefresh is how often an owner-routing client asks for the
// membership when [WithOwnerRouting] is given 0.
const defaultOwnerRefresh = 5 * time.Second

// ownerRouter follows the cluster's membership for a client made with
// [WithOwnerRouting] and says which node owns a key. It is safe for
// concurrent use.
type ownerRouter struct {
	c     *Client
	every time.Duration
	table atomic.Pointer[routeTable] // nil until a refresh succeeds

	mu      sync.Mutex
	started bool               // the loop runs, ran, or will never run
	stop    context.CancelFunc // ends the loop; nil if it never started
	ready   chan struct{}      // closed when the first refresh has ended
	done    chan struct{}      // closed when the loop has exited

	// clients holds one endpoint per member URL that is not among the
	// client's own endpoints (a member at one of those shares its
	// endpoint, health included), so that a refresh reuses the clients of
	// the members it already knew. Only the loop uses it.
	clients map[string]*endpoint
}

// routeTable is one view of the membership: the ring as the nodes build
// it and each member's endpoint. It is replaced whole on every refresh.
type routeTable struct {
	ring    *ring.Ring
	members map[string]*member // by member ID; a member without a usable address is absent
}

// member is one node a routeTable can send calls to.
type member struct {
	*endpoint
	// passOver is set when the node reported the member suspect, or when
	// a call to it failed with a retryable error: its keys then go round
	// robin until the next refresh builds a new table. They also do
	// while the endpoint is ejected.
	passOver atomic.Bool
}

func newOwnerRouter(c *Client, every time.Duration) *ownerRouter {
	return &ownerRouter{
		c: c, every: every,
		ready: make(chan struct{}), done: make(chan struct{}),
		clients: map[string]*endpoint{},
	}
}

// owner returns the member to try first for key, or nil when there is
// none to try: no membership yet, an empty ring, or an owner that is
// passed over or ejected. The first call starts the refresh loop and
// waits, while ctx allows, for its first refresh.
func (r *ownerRouter) owner(ctx context.Context, key string) *member {
	t := r.table.Load()
	if t == nil {
		r.start()
		select {
		case <-r.ready:
		case <-ctx.Done():
		}
		if t = r.table.Load(); t == nil {
			return nil
		}
	}
	m, ok := t.ring.Owner(key)
	if !ok {
		return nil
	}
	if mb := t.members[m.ID]; mb != nil && !mb.passOver.Load() && !mb.ejected.Load() {
		return mb
	}
	return nil
}

// start starts the refresh loop unless it has started or the router is
// closed.
func (r *ownerRouter) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.loop(ctx)
}

// close stops the refresh loop and waits for it to exit; the last table
// stays in use. Later calls of start do nothing.
func (r *ownerRouter) close() {
	r.mu.Lock()
	if !r.started {
		r.started = true
		close(r.ready)
		close(r.done)
	}
	stop := r.stop
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	<-r.done
}

// loop refreshes the table at once and then every r.every until ctx
// ends.
func (r *ownerRouter) loop(ctx context.Context) {
	defer close(r.done)
	r.refresh(ctx)
	close(r.ready)
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.refresh(ctx)
		}
	}
}

// refresh asks the configured endpoints, with the client's retries, for
// the membership and swaps in a new table. A failed refresh keeps the
// table there is: a stale owner still answers (any node does), and one
// that is gone is passed over after one failed call.
func (r *ownerRouter) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(r.every, defaultOwnerRefresh))
	defer cancel()
	var (
		res    *distcachev1.ListMembersResponse
		scheme string
	)
	err := r.c.call(ctx, func(ctx context.Context, e *endpoint) error {
		m, err := e.cluster.ListMembers(ctx, connect.NewRequest(&distcachev1.ListMembersRequest{}))
		if err == nil {
			res, scheme = m.Msg, schemeOf(e.url)
		}
		return err
	})
	if err != nil {
		return
	}
	r.table.Store(r.build(res, scheme))
}

// build makes the table of res, reaching members over scheme.
func (r *ownerRouter) build(res *distcachev1.ListMembersResponse, scheme string) *routeTable {
	ms := make([]ring.Member, 0, len(res.GetMembers()))
	t := &routeTable{members: make(map[string]*member, len(res.GetMembers()))}
	used := make(map[string]*endpoint, len(res.GetMembers()))
	for _, pm := range res.GetMembers() {
		ms = append(ms, ring.Member{ID: pm.GetId(), Addr: pm.GetAddress()})
		u := scheme + "://" + pm.GetAddress()
		if pm.GetAddress() == "" || checkEndpoint(u) != nil {
			continue // its keys go round robin
		}
		e := r.c.byURL[u]
		if e == nil {
			if e = r.clients[u]; e == nil {
				e = r.c.newEndpoint(u)
			}
			used[u] = e
		}
		mb := &member{endpoint: e}
		mb.passOver.Store(pm.GetState() == distcachev1.MemberState_MEMBER_STATE_SUSPECT)
		t.members[pm.GetId()] = mb
	}
	for u, e := range r.clients {
		if used[u] == nil {
			e.retired.Store(true) // its prober, if any, gives up
		}
	}
	r.clients = used
	t.ring = ring.NewRing(ms, int(res.GetReplicas()))
	return t
}

// schemeOf returns the scheme of an endpoint URL that New checked.
func schemeOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "http"
	}
	return p.Scheme
}

// callKey is [Client.call] for a call on key: with owner routing, the
// first attempt goes to the key's owner (see [WithOwnerRouting]).
func (c *Client) callKey(ctx context.Context, key string, fn func(context.Context, *endpoint) error) error {
	if c.router == nil {
		return c.call(ctx, fn)
	}
	return c.callFirst(ctx, c.router.owner(ctx, key), fn)
}
