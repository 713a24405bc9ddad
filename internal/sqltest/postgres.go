package sqltest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgresPassword is the password of the postgres superuser on the test
// server; connections over TCP need it.
const PostgresPassword = "sqltest-secret-pw"

// postgresBin finds the newest /usr/lib/postgresql/<ver>/bin holding
// initdb and postgres.
func postgresBin() (string, bool) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, true
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), true
	}
	return "", false
}

func pgVersion(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// asUser returns the credential to run a server as when the test runs as
// root (PostgreSQL refuses to), nil otherwise, and chowns dir to it.
func asUser(name, dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, and no %q user to run the server as: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startPostgres initialises a cluster in a new temporary directory and
// starts postgres on it, listening on 127.0.0.1 only with password
// authentication, its socket in the same directory.
func startPostgres() (*Server, string, error) {
	bin, ok := postgresBin()
	if !ok {
		return nil, "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)", nil
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "distcache-pg-")
	if err != nil {
		return nil, "", err
	}
	s := &Server{Kind: "postgres", dir: dir}
	fail := func(err error) (*Server, string, error) { s.stop(); return nil, "", err }
	cred, err := asUser("postgres", dir)
	if err != nil {
		return fail(err)
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(PostgresPassword+"\n"), 0o600); err == nil && cred != nil {
		err = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"-A", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = sysProcAttr(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	addr, port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.Addr = addr
	s.dsnFor = func(db string) string {
		return fmt.Sprintf("postgres://postgres:%s@%s/%s?sslmode=disable", PostgresPassword, addr, db)
	}
	s.admin = s.dsnFor("postgres")
	err = s.launch(cred, filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", port,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	if err == nil {
		err = s.waitReady()
	}
	if err != nil {
		return fail(err)
	}
	s.Startup = time.Since(begin)
	return s, "", nil
}
