package resp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/distcache/distcache/server/api"
)

// commandOverhead is what one command may carry besides its values (the
// key, options and framing); with [Config.MaxValueBytes] it bounds the
// bytes a connection may send before its command is complete.
const commandOverhead = 64 << 10

// Config is what [New] needs. Handler and Groups are required; every
// other field has a working default.
type Config struct {
	// Handler is the node's HTTP handler ([api.NewHandler]): every data
	// command is served by it, in process.
	Handler http.Handler
	// Groups are the names of the node's groups, the prefixes a key may
	// name its group by (see [SplitKey]).
	Groups []string
	// DefaultGroup holds the keys without a group prefix (default
	// [DefaultGroup]); it must be one of Groups.
	DefaultGroup string
	// Tokens, when it has any, makes every command but AUTH, HELLO and
	// QUIT answer NOAUTH until the connection sends AUTH with a known
	// token; the token's scopes then decide, as for the RPCs. The zero
	// value leaves the protocol open and refuses AUTH as Redis without a
	// password does.
	Tokens api.Tokens
	// MaxValueBytes is the node's --max-value-bytes (default
	// [api.DefaultMaxValueBytes]). A command longer than it plus 64 KiB is
	// refused with a protocol error and its connection closed, before it
	// is read whole; a value over it but within that is refused as Set
	// refuses it.
	MaxValueBytes int64
	// MaxConns and MaxConnsPerClient bound the open connections, in all
	// and per client IP address; zero means [api.DefaultMaxConns] and
	// [api.DefaultMaxConnsPerClient], negative means no limit. A
	// connection over a limit is answered "ERR max number of clients
	// reached" and closed.
	MaxConns, MaxConnsPerClient int
	// IdleTimeout closes a connection that sends no complete command for
	// this long (default [api.DefaultIdleTimeout]; negative: never).
	IdleTimeout time.Duration
	// Grace bounds how long commands in flight may take to finish after
	// shutdown begins (default 10s).
	Grace time.Duration
	// NodeID, when set, is reported by INFO.
	NodeID string
}

// Server serves the Redis protocol. Make one with [New]; it is safe for
// concurrent use.
type Server struct {
	cfg    Config
	groups map[string]bool
	// services are the handlers of the procedures the commands call, by
	// procedure ([api.ServiceHandler]).
	services map[string]http.Handler
	start    time.Time
	port     string       // the listener's, for INFO; set before serving
	ids      atomic.Int64 // connection ids, from 1

	// ctx is every command's context; cancel cuts the commands still
	// running when the grace after shutdown runs out.
	ctx    context.Context
	cancel context.CancelFunc

	draining atomic.Bool
	mu       sync.Mutex
	sessions map[*session]struct{}
	perIP    map[string]int
	gone     chan struct{} // closed when the last session ends while draining
	wg       sync.WaitGroup
}

// New checks cfg and returns a server for it.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("resp: Config.Handler is required")
	}
	cfg.DefaultGroup = cmp.Or(cfg.DefaultGroup, DefaultGroup)
	if !slices.Contains(cfg.Groups, cfg.DefaultGroup) {
		return nil, fmt.Errorf("default group %q is not a group of this node (groups: %s)",
			cfg.DefaultGroup, strings.Join(cfg.Groups, ", "))
	}
	if cfg.MaxValueBytes <= 0 {
		cfg.MaxValueBytes = api.DefaultMaxValueBytes
	}
	cfg.MaxConns = cmp.Or(cfg.MaxConns, api.DefaultMaxConns)
	cfg.MaxConnsPerClient = cmp.Or(cfg.MaxConnsPerClient, api.DefaultMaxConnsPerClient)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, api.DefaultIdleTimeout)
	cfg.Grace = cmp.Or(cfg.Grace, 10*time.Second)
	s := &Server{cfg: cfg, groups: map[string]bool{}, start: time.Now(),
		sessions: map[*session]struct{}{}, perIP: map[string]int{}, gone: make(chan struct{})}
	for _, g := range cfg.Groups {
		s.groups[g] = true
	}
	s.services = map[string]http.Handler{}
	for _, p := range procedures {
		s.services[p] = api.ServiceHandler(cfg.Handler, p)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// isGroup reports whether the node serves a group called name.
func (s *Server) isGroup(name string) bool { return s.groups[name] }

// maxCommandBytes is the most bytes a connection may send for one command.
func (s *Server) maxCommandBytes() int64 { return s.cfg.MaxValueBytes + commandOverhead }

// Serve serves ln until ctx is done or ln fails; a Server serves once.
// When ctx ends it stops accepting, closes idle connections, lets each
// busy one answer the commands it has read and then closes it, waits for
// that up to the grace, cuts what is left, and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	dl := &drainListener{Listener: ln, release: make(chan struct{})}
	rs := redcon.NewServerNetwork(ln.Addr().Network(), ln.Addr().String(), s.handle, s.accept, s.closed)
	if s.cfg.IdleTimeout > 0 {
		rs.SetIdleClose(s.cfg.IdleTimeout)
	}
	errc := make(chan error, 1)
	go func() { errc <- rs.Serve(dl) }()
	var err error
	select {
	case err = <-errc: // the listener failed
		s.cancel()
	case <-ctx.Done():
		s.drain(dl)
		err = <-errc
	}
	s.wg.Wait()
	s.cancel()
	return err
}

// drain stops accepting, closes idle connections and waits up to the
// grace for the busy ones to finish; then it lets redcon close the rest.
func (s *Server) drain(dl *drainListener) {
	s.draining.Store(true)
	dl.closing.Store(true)
	_ = dl.Listener.Close()
	s.mu.Lock()
	for sess := range s.sessions {
		sess.closeIfIdle()
	}
	empty := len(s.sessions) == 0
	s.mu.Unlock()
	if !empty {
		t := time.NewTimer(s.cfg.Grace)
		select {
		case <-s.gone:
		case <-t.C:
		}
		t.Stop()
	}
	s.cancel() // commands still running are cut
	close(dl.release)
}

// accept admits a connection within the connection limits.
func (s *Server) accept(c redcon.Conn) bool {
	gc, _ := c.NetConn().(*guardConn)
	ip := clientIP(c.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	if gc == nil || s.draining.Load() ||
		(s.cfg.MaxConns > 0 && len(s.sessions) >= s.cfg.MaxConns) ||
		(s.cfg.MaxConnsPerClient > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerClient) {
		c.WriteError("ERR max number of clients reached") // redcon flushes it as it closes c
		return false
	}
	sess := &session{srv: s, id: s.ids.Add(1), addr: c.RemoteAddr(), ip: ip, net: gc}
	gc.sess, gc.limit = sess, s.maxCommandBytes()
	c.SetContext(sess)
	s.sessions[sess] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	return true
}

// closed forgets a connection that ended.
func (s *Server) closed(c redcon.Conn, _ error) {
	sess, ok := c.Context().(*session)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.sessions, sess)
	if s.perIP[sess.ip]--; s.perIP[sess.ip] <= 0 {
		delete(s.perIP, sess.ip)
	}
	if len(s.sessions) == 0 && s.draining.Load() {
		select {
		case <-s.gone:
		default:
			close(s.gone)
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

// clients is the number of open connections.
func (s *Server) clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// clientIP is the host of a "host:port" address.
func clientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// acceptBackoff is the pause after a failed Accept.
const acceptBackoff = 10 * time.Millisecond

// drainListener wraps each connection in a [guardConn] and, once closing,
// holds redcon's accept loop until release is closed: redcon closes every
// connection when its loop ends, and the busy ones may finish first.
type drainListener struct {
	net.Listener
	closing atomic.Bool
	release chan struct{}
}

// Accept returns the next connection, wrapped.
func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if l.closing.Load() {
			<-l.release
			return nil, net.ErrClosed
		}
		if !errors.Is(err, net.ErrClosed) {
			// redcon tries again at once: out of file descriptors, say,
			// it would spin.
			time.Sleep(acceptBackoff)
		}
		return nil, err
	}
	if l.closing.Load() {
		_ = c.Close()
		<-l.release
		return nil, net.ErrClosed
	}
	return &guardConn{Conn: c}, nil
}
