package client_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distcache/distcache/sdk/client"
)

// The examples run real node processes, built once from this checkout's
// ./server: the client's module does not depend on the node's (the
// client's other tests, which run nodes in process, are in the module
// sdk/client/clienttest).

var (
	binDir     string
	nodeBinary = sync.OnceValues(func() (string, error) {
		var err error
		if binDir, err = os.MkdirTemp("", "distcache-example-bin"); err != nil {
			return "", err
		}
		bin := filepath.Join(binDir, "distcache")
		cmd := exec.Command("go", "build", "-o", bin, "./server")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./server: %v\n%s", err, out)
		}
		return bin, nil
	})
)

// TestMain removes the node binary once the examples have run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// exampleNode starts a node on a loopback port for an example and
// returns its URL and a func that stops it and removes its files.
func exampleNode() (url string, stop func()) {
	urls, stop := startNodes(1, nil)
	return urls[0], stop
}

// exampleCluster starts a cluster of n nodes on loopback ports that know
// each other through a static peer list and share one database file,
// waits until each sees all n, and returns the URL of each and a func
// that stops them all and removes their files.
func exampleCluster(n int) (urls []string, stop func()) {
	addrs := make([]string, n)
	var peers []string
	for i := range addrs {
		addrs[i] = freeAddr()
		peers = append(peers, fmt.Sprintf("n%d=%s", i, addrs[i]))
	}
	urls, stop = startNodes(n, func(i int, dir string) []string {
		return []string{"--addr", addrs[i], "--node-id", fmt.Sprintf("n%d", i), "--advertise", addrs[i],
			"--peers", strings.Join(peers, ","), "--cluster-secret", "example-cluster-secret",
			"--db", filepath.Join(dir, "..", "shared.db"), "--shared-db"}
	})
	for _, u := range urls {
		c, err := client.New([]string{u})
		if err != nil {
			panic(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := c.Members(context.Background())
			if err == nil && len(res.GetMembers()) == n {
				break
			}
			if time.Now().After(deadline) {
				panic(fmt.Sprintf("%s does not see %d members: %v, %v", u, n, res, err))
			}
		}
		c.Close()
	}
	return urls, stop
}

// startNodes starts n node processes, the i-th with the flags args(i,
// its directory) gives (nil: a node on its own), and waits until each
// answers /readyz.
func startNodes(n int, args func(i int, dir string) []string) (urls []string, stop func()) {
	bin, err := nodeBinary()
	if err != nil {
		panic(err)
	}
	root, err := os.MkdirTemp("", "distcache-example")
	if err != nil {
		panic(err)
	}
	var cmds []*exec.Cmd
	for i := range n {
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
			panic(err)
		}
		flags := []string{"--addr", freeAddr(), "--db", filepath.Join(dir, "distcache.db")}
		if args != nil {
			flags = args(i, dir)
		}
		// The examples do not depend on the policy: spare them the compiles.
		flags = append(flags, "--plugins", filepath.Join(dir, "plugins"), "--shutdown-delay", "0s", "--builtin-plugins=false")
		cmd := exec.Command(bin, flags...)
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DISTCACHE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		cmds = append(cmds, cmd)
		urls = append(urls, "http://"+flags[1])
	}
	for _, u := range urls {
		deadline := time.Now().Add(30 * time.Second)
		for !ready(u) {
			if time.Now().After(deadline) {
				panic(u + " not ready within 30s")
			}
		}
	}
	return urls, func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		os.RemoveAll(root)
	}
}

// ready reports whether the node at u answers GET /readyz with 200,
// waiting up to a second for the answer.
func ready(u string) bool {
	hc := http.Client{Timeout: time.Second}
	res, err := hc.Get(u + "/readyz")
	if err != nil {
		time.Sleep(20 * time.Millisecond) // not listening yet: poll again shortly
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
