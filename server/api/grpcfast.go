package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/distcache/distcache/server/peer"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	// gRPC clients may compress their messages with gzip; grpc-go inflates
	// them, at most the server's MaxRecvMsgSize.
	_ "google.golang.org/grpc/encoding/gzip"
)

// Connections are told apart by their first request (decision 0013): an
// HTTP/2 connection without TLS whose first request is gRPC from a
// gRPC-only client goes to grpc-go's transport, every other connection to
// net/http's server, which serves all protocols. Clients that speak more
// than one protocol may share a connection between them (connect-go's,
// for one), so only user agents of gRPC implementations that speak
// nothing else are trusted to keep a connection to gRPC.

// isGRPCOnlyClient reports whether a request with this content type and
// user agent comes from a client that sends only gRPC on its connection:
// the gRPC implementations (grpc-go, grpc-java, the C core behind Python,
// Ruby, PHP, C# and C++, grpc-node, grpc-dotnet), and distcache's own Go
// clients, which say so in their user agent.
func isGRPCOnlyClient(contentType, userAgent string) bool {
	if contentType != "application/grpc" && contentType != "application/grpc+proto" {
		return false
	}
	ua := strings.ToLower(userAgent)
	if strings.Contains(ua, grpcOnlyAgent) {
		return true
	}
	return strings.HasPrefix(ua, "grpc-") && !strings.Contains(ua, "connect")
}

// grpcOnlyAgent marks, in a user agent, a distcache client that speaks
// only gRPC on its connections (the peer client and sdk/client with
// ProtocolGRPC).
const grpcOnlyAgent = peer.GRPCOnlyAgent

// sniffResult says where a connection goes.
type sniffResult int

const (
	toHTTP sniffResult = iota // net/http's server
	toGRPC                    // grpc-go's transport
)

// emptySettings is an HTTP/2 SETTINGS frame with no parameters. gRPC
// clients wait for the server's SETTINGS before their first request, so
// the sniffer sends one; the client acknowledges it, and a connection
// that goes to net/http has that acknowledgement removed
// (settingsAckFilter), since net/http counts acknowledgements.
var emptySettings = []byte{0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0}

// sniff reads the start of c, up to its first request's headers, and
// says where c goes. It returns what it read, to be read again by the
// server c goes to, and whether it sent its SETTINGS frame.
func sniff(c net.Conn, maxHeaderBytes int) (read []byte, route sniffResult, sentSettings bool) {
	rec := &recordingReader{r: c}
	// The preface, compared as it arrives: an HTTP/1.1 request may be
	// shorter than the preface and wait for its answer.
	preface := []byte(http2.ClientPreface)
	var got [len(http2.ClientPreface)]byte
	n := 0
	for n < len(got) {
		k, err := rec.Read(got[n:])
		n += k
		if !bytes.Equal(got[:n], preface[:n]) || err != nil {
			return rec.buf, toHTTP, false
		}
	}
	if _, err := c.Write(emptySettings); err != nil {
		return rec.buf, toHTTP, false
	}
	fr := http2.NewFramer(nil, rec)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = uint32(maxHeaderBytes)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return rec.buf, toHTTP, true
		}
		switch f := f.(type) {
		case *http2.SettingsFrame, *http2.WindowUpdateFrame, *http2.PriorityFrame, *http2.PingFrame:
			continue
		case *http2.MetaHeadersFrame:
			if isGRPCOnlyClient(headerValue(f, "content-type"), headerValue(f, "user-agent")) {
				return rec.buf, toGRPC, true
			}
			return rec.buf, toHTTP, true
		default:
			return rec.buf, toHTTP, true
		}
	}
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// recordingReader reads from r and keeps everything it read.
type recordingReader struct {
	r   io.Reader
	buf []byte
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// sniffedConn is a connection whose first bytes were read by the sniffer:
// it returns them again before reading on, and runs onClose once when
// closed.
type sniffedConn struct {
	net.Conn
	prefix  []byte
	filter  *settingsAckFilter // nil: read as is
	once    sync.Once
	onClose func()
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if c.filter != nil {
		return c.filter.Read(p)
	}
	return c.readRaw(p)
}

func (c *sniffedConn) readRaw(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// NetConn returns the connection c wraps.
func (c *sniffedConn) NetConn() net.Conn { return c.Conn }

func (c *sniffedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// settingsAckFilter passes a client's HTTP/2 byte stream through frame by
// frame, leaving out the first SETTINGS acknowledgement (the one for the
// sniffer's SETTINGS), then everything as is.
type settingsAckFilter struct {
	src     func([]byte) (int, error)
	preface int    // preface bytes still to pass
	head    []byte // the current frame's header, while incomplete
	left    int    // payload bytes of the current frame still to pass
	done    bool   // the acknowledgement is gone: pass everything
	out     []byte // bytes ready to return
	scratch [4096]byte
}

func (f *settingsAckFilter) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.done {
			return f.src(p)
		}
		n, err := f.src(f.scratch[:])
		f.feed(f.scratch[:n])
		if err != nil {
			if len(f.head) > 0 {
				// The stream ends inside a frame header: pass what
				// came, for the server to refuse.
				f.out = append(f.out, f.head...)
				f.head = f.head[:0]
			}
			if len(f.out) == 0 {
				return 0, err
			}
			break // the error comes again on the next read
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// feed parses b into frames and appends what passes to out.
func (f *settingsAckFilter) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case f.done:
			f.out = append(f.out, b...)
			return
		case f.preface > 0:
			k := min(f.preface, len(b))
			f.out = append(f.out, b[:k]...)
			f.preface -= k
			b = b[k:]
		case f.left > 0:
			k := min(f.left, len(b))
			f.out = append(f.out, b[:k]...)
			f.left -= k
			b = b[k:]
		default:
			k := min(9-len(f.head), len(b))
			f.head = append(f.head, b[:k]...)
			b = b[k:]
			if len(f.head) < 9 {
				return
			}
			length := int(binary.BigEndian.Uint32(append([]byte{0}, f.head[:3]...)))
			isAck := http2.FrameType(f.head[3]) == http2.FrameSettings && http2.Flags(f.head[4]).Has(http2.FlagSettingsAck)
			if isAck && length == 0 {
				f.done = true // dropped
			} else {
				f.out = append(f.out, f.head...)
				f.left = length
			}
			f.head = f.head[:0]
		}
	}
}

// chanListener is a net.Listener whose connections are handed to it.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// hand gives c to the listener's server, or closes it when the listener
// is closed.
func (l *chanListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// demux accepts connections on ln, admits them through the limiter,
// sniffs each in its own goroutine (after the TLS handshake, given
// tlsCfg) and hands it to httpLn or grpcLn. It returns when ln is closed.
func demux(ln net.Listener, limiter *connLimiter, httpLn, grpcLn *chanListener, tlsCfg *tls.Config, sniffTimeout time.Duration, maxHeaderBytes int) error {
	var tempDelay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay) // as net/http backs off on accept errors
				continue
			}
			return err
		}
		tempDelay = 0
		sc := &sniffedConn{Conn: c}
		if !limiter.admit(sc) {
			continue
		}
		sc.onClose = func() { limiter.release(sc) }
		if tlsCfg != nil {
			go routeTLS(sc, tlsCfg, httpLn, grpcLn, sniffTimeout, maxHeaderBytes)
		} else {
			go route(sc, sc, httpLn, grpcLn, sniffTimeout, maxHeaderBytes)
		}
	}
}

// route sniffs c, whose reads and writes go through sc, and hands sc to
// the server its first request calls for.
func route(c net.Conn, sc *sniffedConn, httpLn, grpcLn *chanListener, sniffTimeout time.Duration, maxHeaderBytes int) {
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	read, to, sentSettings := sniff(sc.Conn, maxHeaderBytes)
	_ = c.SetReadDeadline(time.Time{})
	sc.prefix = read
	if to == toGRPC {
		grpcLn.hand(sc)
		return
	}
	if sentSettings {
		sc.filter = &settingsAckFilter{src: sc.readRaw, preface: len(http2.ClientPreface)}
	}
	// A TLS connection handed on here is served by net/http as if it were
	// h2c: its handlers see no Request.TLS (none of the node's reads it;
	// a conn with ConnectionState would be taken for HTTP/1.1 over TLS).
	httpLn.hand(sc)
}

// routeTLS completes the TLS handshake on c; then an HTTP/2 connection
// is sniffed like any other, and an HTTP/1.1 one goes to net/http as it
// is.
func routeTLS(c *sniffedConn, cfg *tls.Config, httpLn, grpcLn *chanListener, sniffTimeout time.Duration, maxHeaderBytes int) {
	tc := tls.Server(c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), sniffTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		log.Printf("http: TLS handshake error from %s: %v", c.RemoteAddr(), err) // as net/http logs it
		_ = tc.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		httpLn.hand(tc)
		return
	}
	route(tc, &sniffedConn{Conn: tc}, httpLn, grpcLn, sniffTimeout, maxHeaderBytes)
}

// serverTLSConfig returns cfg offering HTTP/2 and HTTP/1.1, as net/http's
// ServeTLS would.
func serverTLSConfig(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
	}
	return cfg
}
