package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/internal/sqltest"
)

// sharedSQLGroups is the nodes' --config: "orders" writes through to a
// table of the shared database; "users" reads one through the built-in
// sqlkv loader plugin, whose sql_query reads that database. The DSN is in
// DISTCACHE_TEST_DSN.
const sharedSQLGroups = `groups:
  - name: orders
    capacity: 1MiB
    write_through: true
    loader: {kind: postgres, dsn_env: DISTCACHE_TEST_DSN, table: orders, max_open_conns: 4}
  - name: users
    capacity: 1MiB
    loader:
      kind: wasm
      plugin: sqlkv
      settings: {table: users, key_column: id, value_column: name}
      database: postgres
      dsn_env: DISTCACHE_TEST_DSN
      max_open_conns: 2
`

// TestSharedPostgresCluster runs three node processes, each on its own
// SQLite file and without --shared-db, in one etcd cluster on one
// PostgreSQL database. Writers set keys of the write-through group
// through every node at once; afterwards every node reads each key's last
// acknowledged value and the table holds it, also after a node is killed
// and started again. Rows the database gains are read through the sqlkv
// plugin by every node.
func TestSharedPostgresCluster(t *testing.T) {
	srv := sqltest.Postgres(t)
	dsn := srv.NewDatabase(t)
	raw := srv.Open(t, dsn)
	for _, stmt := range []string{
		"CREATE TABLE orders (k VARCHAR(250) PRIMARY KEY, v BYTEA NOT NULL)",
		"CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
		"INSERT INTO users VALUES ('u1', 'Ada'), ('u2', 'Grace')",
	} {
		if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	config := filepath.Join(t.TempDir(), "groups.yaml")
	if err := os.WriteFile(config, []byte(sharedSQLGroups), 0o644); err != nil {
		t.Fatal(err)
	}

	etcd := startEtcd(t)
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = &clusterNode{
			id: fmt.Sprintf("node%d", i+1), addr: freeAddr(t), db: filepath.Join(t.TempDir(), "own.db"), ownDB: true,
			etcd: etcd.clientAddr, leaseTTL: 3 * time.Second,
			args: []string{"--config", config}, env: []string{"DISTCACHE_TEST_DSN=" + dsn},
		}
		nodes[i].launch(t, t)
	}
	for _, n := range nodes {
		n.waitServing(t)
	}
	waitConverged(t, nodes, ids(nodes...), time.Now(), readyTimeout)

	// Each writer owns a key and sets it through the nodes in turn; what
	// it last had acknowledged is what every reader must see.
	const writers, rounds = 6, 8
	last := make([]string, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("order-%d", w)
			for r := range rounds {
				v := fmt.Sprintf("w%d-r%d", w, r)
				if err := setIn(t.Context(), nodes[(w+r)%len(nodes)], "orders", key, v); err != nil {
					t.Errorf("%v", err)
					return
				}
				last[w] = v
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	checkOrders := func(nodes []*clusterNode) {
		t.Helper()
		for w, want := range last {
			key := fmt.Sprintf("order-%d", w)
			var inTable []byte
			if err := raw.QueryRowContext(t.Context(), "SELECT v FROM orders WHERE k = $1", key).Scan(&inTable); err != nil || string(inTable) != want {
				t.Errorf("table row %s = %q, %v; want %q", key, inTable, err, want)
			}
			for _, n := range nodes {
				if got, _, err := getIn(t.Context(), n, "orders", key); err != nil || got != want {
					t.Errorf("%s: orders/%s = %q, %v; want %q", n.id, key, got, err, want)
				}
			}
		}
	}
	checkOrders(nodes)

	// Kill the owner of order-0. Once the others drop it, write every key
	// again through them; then start it again: every node, the restarted
	// one and the one that owned its keys meanwhile included, reads the
	// values written while it was gone.
	victim := byID(nodes, owner(t, nodes[0], "order-0"))
	at := victim.kill(t, syscall.SIGKILL)
	select {
	case <-victim.done:
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not exit within %v of SIGKILL", victim.id, stopTimeout)
	}
	survivors := alive(nodes, victim)
	waitConverged(t, survivors, ids(survivors...), at, readyTimeout)
	for w := range last {
		v := fmt.Sprintf("w%d-after-kill", w)
		if err := setIn(t.Context(), survivors[w%len(survivors)], "orders", fmt.Sprintf("order-%d", w), v); err != nil {
			t.Fatal(err)
		}
		last[w] = v
	}
	checkOrders(survivors)
	victim.restart(t, t)
	waitConverged(t, nodes, ids(nodes...), time.Now(), readyTimeout)
	checkOrders(nodes)

	// The users group reads the database through sqlkv on every node,
	// rows added after the nodes started included.
	if _, err := raw.ExecContext(t.Context(), "INSERT INTO users VALUES ('u3', 'Hopper')"); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		for id, want := range map[string]string{"u1": "Ada", "u2": "Grace", "u3": "Hopper"} {
			if got, _, err := getIn(t.Context(), n, "users", id); err != nil || got != want {
				t.Errorf("%s: users/%s = %q, %v; want %q", n.id, id, got, err, want)
			}
		}
		if _, _, err := getIn(t.Context(), n, "users", "nobody"); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%s: users/nobody: %v, want not_found", n.id, err)
		}
	}
}

// getIn calls CacheService/Get for group and key on n.
func getIn(ctx context.Context, n *clusterNode, group, key string) (string, distcachev1.Source, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	res, err := n.cacheClient().Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: group, Key: key}))
	if err != nil {
		return "", 0, fmt.Errorf("%s: Get(%s/%q): %w", n.id, group, key, err)
	}
	return string(res.Msg.GetValue()), res.Msg.GetSource(), nil
}

// setIn calls CacheService/Set for group and key on n.
func setIn(ctx context.Context, n *clusterNode, group, key, value string) error {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	req := &distcachev1.SetRequest{Group: group, Key: key, Value: []byte(value)}
	if _, err := n.cacheClient().Set(ctx, connect.NewRequest(req)); err != nil {
		return fmt.Errorf("%s: Set(%s/%q): %w", n.id, group, key, err)
	}
	return nil
}
