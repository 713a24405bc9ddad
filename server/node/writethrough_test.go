package node

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestClusteredWriteThroughNeedsSharedDB: a clustered node refuses a
// write-through group unless every node shares one database file, and
// says which file, field and group, and what to do instead.
func TestClusteredWriteThroughNeedsSharedDB(t *testing.T) {
	dir := t.TempDir()
	wtFile := writeFile(t, dir, "wt.yaml", `
groups:
  - name: plain
    capacity: 1MiB
    loader: {kind: sqlite}
  - name: orders
    capacity: 1MiB
    write_through: true
    loader: {kind: sqlite}
`)
	plainFile := writeFile(t, dir, "plain.yaml", `
groups:
  - name: plain
    capacity: 1MiB
    loader: {kind: sqlite}
  - name: written
    capacity: 1MiB
`)
	for _, tc := range []struct {
		name     string
		config   string
		sharedDB bool
		wants    []string // substrings of New's error; nil means it starts
	}{
		{"default configuration", "", false, []string{
			"default configuration", "groups[0].write_through", `"default"`, "--shared-db", "--config"}},
		{"default configuration with --shared-db", "", true, nil},
		{"groups file with write_through", wtFile, false, []string{
			wtFile, "groups[1].write_through", `"orders"`, "--shared-db", "--config"}},
		{"groups file with write_through and --shared-db", wtFile, true, nil},
		{"groups file without write_through", plainFile, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "node.db")
			cfg := Config{DBPath: db, ConfigPath: tc.config, PluginsDir: t.TempDir(), Cluster: ClusterConfig{
				NodeID: "na", Advertise: "127.0.0.1:1",
				Peers:    []string{"na=127.0.0.1:1", "nb=127.0.0.1:2"},
				Secret:   "s",
				SharedDB: tc.sharedDB,
			}}
			before := snapshotResources(t)
			n, err := New(context.Background(), cfg)
			if tc.wants == nil {
				if err != nil {
					t.Fatalf("New = %v, want a started node", err)
				}
				if len(n.All()) == 0 {
					t.Fatal("the node started without groups")
				}
				if err := n.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			} else {
				if err == nil {
					n.Close()
					t.Fatalf("New started a clustered node with a write-through group; want an error naming %q", tc.wants)
				}
				for _, w := range append(tc.wants, "write_through", db) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("New = %q\nwant it to name %q", err, w)
					}
				}
			}
			before.checkReleased(t)
		})
	}
}

// resources counts what a node holds while open: goroutines and file
// descriptors (the database, the plugin watcher).
type resources struct{ goroutines, fds int }

func snapshotResources(t *testing.T) resources {
	t.Helper()
	return resources{runtime.NumGoroutine(), openFDs(t)}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0 // not Linux: fds are not counted
	}
	return len(ents)
}

// checkReleased waits (up to a deadline) for the goroutines and file
// descriptors to fall back to what r counted.
func (r resources) checkReleased(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := snapshotResources(t)
		if now.goroutines <= r.goroutines && now.fds <= r.fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("left open: %d goroutines (was %d), %d fds (was %d)\n%s",
				now.goroutines, r.goroutines, now.fds, r.fds, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
