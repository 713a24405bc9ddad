package sqltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers the "mysql" driver
)

// startMariaDB installs a system database in a new temporary directory
// and starts mariadbd on it, listening on 127.0.0.1 only; root has no
// password.
func startMariaDB() (*Server, string, error) {
	server, err := exec.LookPath("mariadbd")
	if err != nil {
		if server, err = exec.LookPath("/usr/sbin/mariadbd"); err != nil {
			return nil, "MariaDB is not installed (no mariadbd)", nil
		}
	}
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return nil, "MariaDB is not installed (no mariadb-install-db)", nil
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "distcache-mariadb-")
	if err != nil {
		return nil, "", err
	}
	s := &Server{Kind: "mysql", dir: dir}
	fail := func(err error) (*Server, string, error) { s.stop(); return nil, "", err }
	data := filepath.Join(dir, "data")
	var userFlag []string
	if os.Geteuid() == 0 {
		userFlag = []string{"--user=root"}
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db"}, userFlag...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %v\n%s", err, out))
	}
	addr, port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.Addr = addr
	s.dsnFor = func(db string) string { return fmt.Sprintf("root@tcp(%s)/%s", addr, db) }
	s.admin = s.dsnFor("")
	args = append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + filepath.Join(dir, "sock"),
		"--pid-file=" + filepath.Join(dir, "pid"), "--port=" + port, "--bind-address=127.0.0.1",
		"--skip-log-bin", "--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=32M",
		"--max-connections=300", "--skip-name-resolve=0"}, userFlag...)
	err = s.launch(nil, append([]string{server}, args...)...)
	if err == nil {
		err = s.waitReady()
	}
	if err != nil {
		return fail(err)
	}
	s.Startup = time.Since(begin)
	return s, "", nil
}
