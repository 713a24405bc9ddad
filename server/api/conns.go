package api

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimiter bounds a server's open connections, in all and per client
// address, through the server's ConnState hook. At the total limit a new
// connection takes the place of the connection idle the longest, so idle
// clients cannot lock new ones out; with none idle, the new one is closed
// at once. A client address at its own limit gets its new connection
// closed. It is safe for concurrent use.
type connLimiter struct {
	total, perAddr int

	mu     sync.Mutex
	conns  map[net.Conn]*connInfo
	byAddr map[string]int
	closed int64 // connections closed by the limits
}

type connInfo struct {
	addr      string
	idleSince time.Time // zero while active
}

func newConnLimiter(total, perAddr int) *connLimiter {
	return &connLimiter{total: total, perAddr: perAddr, conns: map[net.Conn]*connInfo{}, byAddr: map[string]int{}}
}

// admit counts a new connection, or closes it and returns false when a
// limit refuses it.
func (l *connLimiter) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.admitLocked(c)
}

func (l *connLimiter) admitLocked(c net.Conn) bool {
	addr := hostOf(c.RemoteAddr())
	if l.perAddr > 0 && l.byAddr[addr] >= l.perAddr {
		l.closed++
		_ = c.Close()
		return false
	}
	if l.total > 0 && len(l.conns) >= l.total && !l.evictIdleLocked() {
		l.closed++
		_ = c.Close()
		return false
	}
	l.conns[c] = &connInfo{addr: addr}
	l.byAddr[addr]++
	return true
}

// release forgets a closed connection.
func (l *connLimiter) release(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(c)
}

func (l *connLimiter) forgetLocked(c net.Conn) {
	if ci := l.conns[c]; ci != nil {
		delete(l.conns, c)
		if l.byAddr[ci.addr]--; l.byAddr[ci.addr] <= 0 {
			delete(l.byAddr, ci.addr)
		}
	}
}

// hook is net/http's ConnState: it admits connections the demultiplexer
// has not admitted already, and tracks which are idle, so that one can
// make room for a new connection.
func (l *connLimiter) hook(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateNew:
		if l.lookupLocked(c) == nil {
			l.admitLocked(c) // its StateClosed is not reported for a conn refused here
		}
	case http.StateActive:
		if key := l.lookupLocked(c); key != nil {
			l.conns[key].idleSince = time.Time{}
		}
	case http.StateIdle:
		if key := l.lookupLocked(c); key != nil {
			l.conns[key].idleSince = time.Now()
		}
	case http.StateHijacked, http.StateClosed:
		if key := l.lookupLocked(c); key != nil {
			l.forgetLocked(key)
		}
	}
}

// lookupLocked returns the admitted connection c is or wraps (TLS over
// a sniffed connection, say), or nil.
func (l *connLimiter) lookupLocked(c net.Conn) net.Conn {
	for c != nil {
		if l.conns[c] != nil {
			return c
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = w.NetConn()
	}
	return nil
}

// evictIdleLocked closes the connection idle the longest, and reports
// whether there was one.
func (l *connLimiter) evictIdleLocked() bool {
	var oldest net.Conn
	var since time.Time
	for c, ci := range l.conns {
		if !ci.idleSince.IsZero() && (oldest == nil || ci.idleSince.Before(since)) {
			oldest, since = c, ci.idleSince
		}
	}
	if oldest == nil {
		return false
	}
	l.forgetLocked(oldest)
	l.closed++
	if sc, ok := oldest.(*sniffedConn); ok {
		// Not sc.Close, whose release would take l.mu again.
		_ = sc.Conn.Close()
	} else {
		_ = oldest.Close()
	}
	return true
}

// stats returns the connections open and those closed by the limits.
func (l *connLimiter) stats() (open int, closed int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns), l.closed
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
