package resp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// session is one client connection's state. Its fields other than mu's
// are written only by the connection's own goroutine.
type session struct {
	srv  *Server
	id   int64
	addr string // the client's host:port
	ip   string
	net  *guardConn

	token string // the AUTH token, carried as "Authorization: Bearer"
	name  string // CLIENT SETNAME

	mu   sync.Mutex
	busy bool // a command was read and its answer is not yet written
}

// authed reports whether the session may run data commands: the node
// checks no tokens, or the session sent a known one.
func (s *session) authed() bool { return !s.srv.cfg.Tokens.Enabled() || s.token != "" }

// setBusy marks the session as answering a command.
func (s *session) setBusy() {
	s.mu.Lock()
	s.busy = true
	s.mu.Unlock()
}

// closeIfIdle closes the connection if it waits for a command; a busy
// one ends at its next read (see guardConn.Read).
func (s *session) closeIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.busy {
		_ = s.net.Conn.Close()
	}
}

// errCommandTooLarge ends a connection whose command is over the limit.
var errCommandTooLarge = errors.New("command too large")

// guardConn is a client connection as redcon sees it. It bounds the bytes
// read between two answers, which is what redcon buffers for one
// incomplete command (redcon itself has no limit), and it ends the
// connection at its next read once the server drains.
type guardConn struct {
	net.Conn
	sess  *session
	limit int64
	read  int64 // bytes read since the last write
}

// Read reads from the connection unless the server drains or the command
// being read is over the limit; then it answers a protocol error, as
// Redis does for a bulk over its limit, and fails.
func (c *guardConn) Read(p []byte) (int, error) {
	s := c.sess
	s.mu.Lock()
	draining := s.srv.draining.Load()
	s.busy = false
	s.mu.Unlock()
	if draining {
		return 0, io.EOF
	}
	if c.read > c.limit {
		_, _ = fmt.Fprintf(c.Conn, "-ERR Protocol error: command of more than %d bytes (this node's --max-value-bytes %d and %d bytes for the rest)\r\n",
			c.limit, s.srv.cfg.MaxValueBytes, commandOverhead)
		return 0, errCommandTooLarge
	}
	n, err := c.Conn.Read(p)
	c.read += int64(n)
	return n, err
}

// Write writes an answer: what was read before it is done with.
func (c *guardConn) Write(p []byte) (int, error) {
	c.read = 0
	return c.Conn.Write(p)
}
