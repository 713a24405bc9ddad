package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// serveForTest serves a handler for a new 1 MiB group "g" with opts on a
// loopback port until the test ends and returns its address.
func serveForTest(t *testing.T, opts ServeOptions) string {
	t.Helper()
	addr, _ := serveGroup(t, Config{}, opts)
	return addr
}

// serveGroup serves cfg, its Groups a new 1 MiB group "g", with opts on a
// loopback port until the test ends, and returns its address and the
// group.
func serveGroup(t testing.TB, cfg Config, opts ServeOptions) (string, *cache.Group) {
	t.Helper()
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	cfg.Groups = oneGroup{g}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String(), g
}

// closedWithin reads from c until the server closes it, or fails the test
// after limit (a deadline for the test, not a timing assertion: the
// server's bound is far shorter).
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
}

// TestSlowBodyIsCutOff trickles a request body one byte at a time: the
// node closes the connection once the body deadline passes, and still
// serves others.
func TestSlowBodyIsCutOff(t *testing.T) {
	addr := serveForTest(t, ServeOptions{BodyTimeout: 300 * time.Millisecond})
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /distcache.v1.CacheService/Get HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
		conns = append(conns, c)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // keep trickling, as the attack does
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, c := range conns {
					_, _ = c.Write([]byte(" "))
				}
			}
		}
	}()
	for _, c := range conns {
		closedWithin(t, c, 30*time.Second)
	}
	res, err := http.Post("http://"+addr+"/distcache.v1.CacheService/Get", "application/json", strings.NewReader(`{"group":"g","key":"k"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("a normal call after the slow ones: HTTP %d", res.StatusCode)
	}
}

// TestIdleConnectionsClose checks that an idle connection is closed after
// the idle timeout.
func TestIdleConnectionsClose(t *testing.T) {
	addr := serveForTest(t, ServeOptions{IdleTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /ui/ HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	closedWithin(t, c, 30*time.Second)
}

// TestHugeHeadersRefused sends headers over the limit: 431, node up.
func TestHugeHeadersRefused(t *testing.T) {
	addr := serveForTest(t, ServeOptions{MaxHeaderBytes: 8 << 10})
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/ui/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("headers of 64 KiB: HTTP %d, want 431", res.StatusCode)
	}
}

// TestConnectionCapsKeepASlot opens idle connections up to the total cap
// from several client addresses: a new client still gets in (the longest
// idle connection makes room), and one address cannot hold more than its
// own cap.
func TestConnectionCapsKeepASlot(t *testing.T) {
	addr := serveForTest(t, ServeOptions{MaxConns: 8, MaxConnsPerClient: 5})
	dial := func(from string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		return d.Dial("tcp", addr)
	}
	// get makes one HTTP/1.1 request on c, leaving it idle.
	get := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(c, "GET /ui/ HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		return res.Body.Close()
	}
	// One address: its sixth connection is closed at once.
	var held []net.Conn
	for i := range 6 {
		c, err := dial("127.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = get(c)
		if i < 5 && err != nil {
			t.Fatalf("connection %d of 127.0.0.2: %v", i, err)
		}
		if i == 5 && err == nil {
			t.Fatal("127.0.0.2 got a sixth connection past its cap of 5")
		}
		if i < 5 {
			held = append(held, c)
		}
	}
	// Three more from another address fill the total of 8 with idle
	// connections; a ninth client still gets in.
	for range 3 {
		c, err := dial("127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := get(c); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	c, err := dial("127.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := get(c); err != nil {
		t.Fatalf("a new client was locked out by idle connections: %v", err)
	}
	// An idle connection made room. Which one is the limiter's choice, the
	// one idle the longest (TestConnLimiterEvictsLongestIdle); here that
	// depends on when the server marked each idle, after the client had
	// read its answer, so under load it need not be the first one made.
	oneClosedWithin(t, held, 30*time.Second)
}

// oneClosedWithin fails unless the server closes at least one of conns
// within limit.
func oneClosedWithin(t *testing.T, conns []net.Conn, limit time.Duration) {
	t.Helper()
	closed := make(chan bool, len(conns))
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(limit))
		go func() {
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			closed <- !(errors.As(err, &ne) && ne.Timeout())
		}()
	}
	for range conns {
		if <-closed {
			return
		}
	}
	t.Fatalf("the server kept all %d idle connections open for %v", len(conns), limit)
}

// TestConnLimiterEvictsLongestIdle: at the total limit a new connection
// takes the place of the connection idle the longest; an active one is
// never closed for it, and with none idle the newcomer is refused.
func TestConnLimiterEvictsLongestIdle(t *testing.T) {
	l := newConnLimiter(3, 0)
	var servers, clients []net.Conn
	for range 5 {
		s, c := net.Pipe()
		servers, clients = append(servers, s), append(clients, c)
		t.Cleanup(func() { s.Close(); c.Close() })
	}
	isClosed := func(i int) bool {
		_ = clients[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := clients[i].Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	for i := range 3 {
		l.hook(servers[i], http.StateNew)
		l.hook(servers[i], http.StateActive)
	}
	// 1 goes idle first, then 0; 2 stays active.
	l.hook(servers[1], http.StateIdle)
	l.hook(servers[0], http.StateIdle)
	l.hook(servers[3], http.StateNew)
	if !isClosed(1) {
		t.Fatal("the connection idle the longest (1) was not closed for a newcomer")
	}
	if open, closed := l.stats(); open != 3 || closed != 1 {
		t.Fatalf("stats: %d open, %d closed; want 3 and 1", open, closed)
	}
	// 0 is idle, 2 and 3 active: 0 goes next.
	l.hook(servers[3], http.StateActive)
	l.hook(servers[4], http.StateNew)
	if !isClosed(0) {
		t.Fatal("the only idle connection (0) was not closed for a newcomer")
	}
	// None idle now: a newcomer is refused, and the active ones stay.
	s, c := net.Pipe()
	t.Cleanup(func() { s.Close(); c.Close() })
	l.hook(s, http.StateNew)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a newcomer got in with every connection active")
	}
	if open, closed := l.stats(); open != 3 || closed != 3 {
		t.Fatalf("stats: %d open, %d closed; want 3 and 3", open, closed)
	}
}
