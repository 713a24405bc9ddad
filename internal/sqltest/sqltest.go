// Package sqltest starts real PostgreSQL and MariaDB servers, from their
// Debian packages, for tests of the SQL sources: each on a free loopback
// port with its data in a temporary directory, started once per test
// binary on first use and stopped by [Run].
//
// A test that needs a server it cannot start (the package is not
// installed) is skipped with the install command, or failed where
// DISTCACHE_REQUIRE_TOOLS=1 (as .ci/run sets). A test package that uses
// it calls [Run] from its TestMain.
package sqltest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/testtool"
)

// Deadlines that only keep a broken server from hanging a run.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
)

// installHint is the command that installs both servers.
const installHint = "apt-get install -y postgresql mariadb-server"

// Server is a database server a test binary started. It is safe for
// concurrent use.
type Server struct {
	// Kind is "postgres" or "mysql", the loader kind that reaches it.
	Kind string
	// Addr is its 127.0.0.1:port.
	Addr string
	// Startup is how long it took to initialise and start.
	Startup time.Duration

	admin  string // DSN of the administrative database
	dsnFor func(db string) string
	dir    string
	cmd    *exec.Cmd
	done   chan struct{}
	output *strings.Builder
	outMu  *sync.Mutex

	mu  sync.Mutex
	seq int
}

// started holds the servers of this test binary, by kind; [Run] stops
// them. Package state, but only of tests: one server per binary keeps
// the start-up cost to once.
var (
	startMu sync.Mutex
	started = map[string]*startResult{}
)

type startResult struct {
	srv *Server
	err error
	why string // non-empty: the tool is missing
}

// Run runs the package's tests and then stops every server they started;
// call it from TestMain: os.Exit(sqltest.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	startMu.Lock()
	defer startMu.Unlock()
	for _, r := range started {
		if r.srv != nil {
			r.srv.stop()
		}
	}
	return code
}

// Postgres returns this binary's PostgreSQL server, starting it on first
// use.
func Postgres(t testing.TB) *Server { return get(t, "postgres", startPostgres) }

// MySQL returns this binary's MariaDB server, starting it on first use.
func MySQL(t testing.TB) *Server { return get(t, "mysql", startMariaDB) }

func get(t testing.TB, kind string, start func() (*Server, string, error)) *Server {
	t.Helper()
	startMu.Lock()
	r, ok := started[kind]
	if !ok {
		r = &startResult{}
		r.srv, r.why, r.err = start()
		started[kind] = r
	}
	startMu.Unlock()
	switch {
	case r.why != "":
		testtool.Missing(t, r.why, installHint)
	case r.err != nil:
		t.Fatalf("starting %s: %v", kind, r.err)
	}
	return r.srv
}

// NewDatabase makes a fresh, empty database on s for one test and returns
// its DSN, in the form the loader of s's kind takes. The database is
// dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.seq)
	s.mu.Unlock()
	admin := s.openAdmin(t)
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		drop := "DROP DATABASE IF EXISTS " + name
		if s.Kind == "postgres" {
			drop += " WITH (FORCE)"
		}
		if _, err := admin.ExecContext(ctx, drop); err != nil {
			t.Errorf("%s: %v", drop, err)
		}
		admin.Close()
	})
	return s.dsnFor(name)
}

// Open opens dsn with s's driver; the handle is closed when the test ends.
func (s *Server) Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName(s.Kind), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (s *Server) openAdmin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName(s.Kind), s.admin)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func driverName(kind string) string {
	if kind == "postgres" {
		return "pgx"
	}
	return "mysql"
}

// launch starts argv as a server with its output kept, in its own
// process group and killed if the test binary dies first.
func (s *Server) launch(cred *syscall.Credential, argv ...string) error {
	s.output, s.outMu = &strings.Builder{}, &sync.Mutex{}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout = lockedWriter{s.output, s.outMu}
	s.cmd.Stderr = s.cmd.Stdout
	s.cmd.SysProcAttr = sysProcAttr(cred)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	return nil
}

// waitReady polls a connection to s's administrative database until it
// answers, the server exits, or readyTimeout passes.
func (s *Server) waitReady() error {
	db, err := sql.Open(driverName(s.Kind), s.admin)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", s.Kind, s.cmd.ProcessState, s.out())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v\n%s", s.Kind, readyTimeout, err, s.out())
		}
	}
}

// stop sends SIGTERM, waits (killing it after stopTimeout) and removes
// its data.
func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) out() string {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.output.String()
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

// freePort returns a loopback host and port that were free a moment ago.
func freePort() (addr, port string, err error) {
	addr, err = childproc.FreeAddr()
	if err != nil {
		return "", "", err
	}
	return addr, addr[strings.LastIndexByte(addr, ':')+1:], nil
}

// TestingM is what goleak.VerifyTestMain runs: a [testing.M], or [Wrap]
// of one.
type TestingM interface{ Run() int }

// Wrap returns m with its Run followed by stopping the servers, for a
// TestMain that hands m to another wrapper (goleak.VerifyTestMain).
func Wrap(m *testing.M) TestingM { return wrapped{m} }

type wrapped struct{ m *testing.M }

func (w wrapped) Run() int { return Run(w.m) }
