package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/internal/sqltest"
)

// sharedServers are the shared database kinds, with a key-value table's DDL.
var sharedServers = []struct {
	kind   string
	server func(testing.TB) *sqltest.Server
	ddl    string
}{
	{"postgres", sqltest.Postgres, "CREATE TABLE kv (k VARCHAR(250) PRIMARY KEY, v BYTEA NOT NULL)"},
	{"mysql", sqltest.MySQL, "CREATE TABLE kv (k VARBINARY(250) PRIMARY KEY, v LONGBLOB NOT NULL)"},
}

// sharedGroups writes a groups file with one write-through group "default"
// on a loader of kind, its DSN in the environment variable
// DISTCACHE_TEST_DSN.
func sharedGroups(t *testing.T, kind string) string {
	return writeFile(t, t.TempDir(), "groups.yaml", fmt.Sprintf(`
groups:
  - name: default
    capacity: 1MiB
    write_through: true
    loader: {kind: %s, dsn_env: DISTCACHE_TEST_DSN, max_open_conns: 8}
`, kind))
}

// TestSharedWriteThroughCluster: three nodes, each on its own SQLite file
// and without --shared-db, write through to one shared database. Writers
// set and delete keys concurrently through every node; afterwards every
// node reads each key's last acknowledged value, and the table holds it.
// Then writers race on single keys; every node serves what the table
// holds.
func TestSharedWriteThroughCluster(t *testing.T) {
	for _, s := range sharedServers {
		t.Run(s.kind, func(t *testing.T) {
			srv := s.server(t)
			dsn := srv.NewDatabase(t)
			raw := srv.Open(t, dsn)
			if _, err := raw.ExecContext(t.Context(), s.ddl); err != nil {
				t.Fatal(err)
			}
			t.Setenv("DISTCACHE_TEST_DSN", dsn)
			// One --db path for all, but no SharedDB: the group's source
			// is the shared database, which needs no flag.
			nodes := startCluster(t, 3, Config{DBPath: filepath.Join(t.TempDir(), "own.db"), ConfigPath: sharedGroups(t, s.kind)})

			const writers, rounds = 6, 15
			last := make([]string, writers) // per writer's key: "" = deleted
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds)
			for w := range writers {
				wg.Go(func() {
					key := fmt.Sprintf("key-%d", w)
					for i := range rounds {
						c := nodes[(w+i)%len(nodes)].clients(protocols()[0]).cache
						var err error
						if i%5 == 4 {
							_, err = c.Delete(context.Background(), connect.NewRequest(&distcachev1.DeleteRequest{Group: "default", Key: key}))
							if err == nil {
								last[w] = ""
							}
						} else {
							v := fmt.Sprintf("w%d-r%d", w, i)
							_, err = c.Set(context.Background(), connect.NewRequest(&distcachev1.SetRequest{Group: "default", Key: key, Value: []byte(v)}))
							if err == nil {
								last[w] = v
							}
						}
						if err != nil {
							errs <- fmt.Errorf("%s round %d: %w", key, i, err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for w, want := range last {
				key := fmt.Sprintf("key-%d", w)
				for j, n := range nodes {
					res, err := n.clients(protocols()[0]).cache.Get(context.Background(),
						connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
					switch {
					case want == "" && connect.CodeOf(err) != connect.CodeNotFound:
						t.Errorf("Get(%s) on node %d = %v, want not found (deleted last)", key, j, err)
					case want != "" && err != nil:
						t.Errorf("Get(%s) on node %d: %v, want %q", key, j, err, want)
					case want != "" && string(res.Msg.Value) != want:
						t.Errorf("Get(%s) on node %d = %q, want %q", key, j, res.Msg.Value, want)
					}
				}
				if got := rowValue(t, raw, s.kind, key); got != want {
					t.Errorf("row %s = %q, want %q", key, got, want)
				}
			}
			sameKeyRaces(t, nodes, raw, s.kind)
		})
	}
}

// sameKeyRaces sets each of a few keys from several writers at once,
// through every node, and then checks that every node serves what the
// table holds: the owner orders a key's writes to the source and its
// versions alike.
func sameKeyRaces(t *testing.T, nodes []*testNode, raw *sql.DB, kind string) {
	t.Helper()
	for r := range 5 {
		key := fmt.Sprintf("hot-%d", r)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				c := nodes[w%len(nodes)].clients(protocols()[0]).cache
				_, err := c.Set(context.Background(), connect.NewRequest(&distcachev1.SetRequest{
					Group: "default", Key: key, Value: fmt.Appendf(nil, "w%d", w)}))
				if err != nil {
					t.Errorf("Set(%s) by writer %d: %v", key, w, err)
				}
			})
		}
		wg.Wait()
		row := rowValue(t, raw, kind, key)
		for j, n := range nodes {
			res, err := n.clients(protocols()[0]).cache.Get(context.Background(),
				connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
			if err != nil || string(res.Msg.Value) != row {
				t.Errorf("after concurrent Sets, Get(%s) on node %d = %v, %v; the table holds %q", key, j, res, err, row)
			}
		}
	}
}

// rowValue returns the v of key in kv, "" when there is no row.
func rowValue(t *testing.T, raw *sql.DB, kind, key string) string {
	t.Helper()
	ph := "$1"
	if kind == "mysql" {
		ph = "?"
	}
	var v []byte
	err := raw.QueryRowContext(t.Context(), "SELECT v FROM kv WHERE k = "+ph, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// TestSharedWriteThroughTTL: a Set's TTL is stored in the shared
// database, so after it passes the key is gone on a fresh node too.
func TestSharedWriteThroughTTL(t *testing.T) {
	srv := sqltest.Postgres(t)
	dsn := srv.NewDatabase(t)
	if _, err := srv.Open(t, dsn).ExecContext(t.Context(), sharedServers[0].ddl); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DISTCACHE_TEST_DSN", dsn)
	cfg := Config{ConfigPath: sharedGroups(t, "postgres")}
	n := startNode(t, cfg)
	ctx := context.Background()
	c := n.clients(protocols()[0]).cache
	// "long" shows a fresh node reads a row written with a TTL while it
	// lasts; "brief" that it does not once it has passed. Two keys, since a
	// node may take longer than a short TTL to start on a loaded machine.
	for key, ttl := range map[string]time.Duration{"brief": time.Second, "long": time.Hour} {
		if _, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{
			Group: "default", Key: key, Value: []byte("v"), Ttl: durationpb.New(ttl)})); err != nil {
			t.Fatal(err)
		}
	}
	get := func(c clients, key string) error {
		_, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
		return err
	}
	fresh := startNode(t, cfg) // another node on its own SQLite file
	if err := get(fresh.clients(protocols()[0]), "long"); err != nil {
		t.Fatalf("Get on a fresh node within the TTL: %v", err)
	}
	waitUntil(t, "the entry to expire", func() bool { return connect.CodeOf(get(n.clients(protocols()[0]), "brief")) == connect.CodeNotFound })
	other := startNode(t, cfg)
	if err := get(other.clients(protocols()[0]), "brief"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Get after the TTL on a fresh node: %v, want not_found", err)
	}
}

// TestWasmLoaderOnSharedDatabase: the built-in sqlkv loader plugin, on a
// group whose loader names a shared database, reads its table through
// sql_query in that database's dialect; a row missing is not found.
func TestWasmLoaderOnSharedDatabase(t *testing.T) {
	for _, s := range sharedServers {
		t.Run(s.kind, func(t *testing.T) {
			srv := s.server(t)
			dsn := srv.NewDatabase(t)
			raw := srv.Open(t, dsn)
			for _, stmt := range []string{s.ddl, "INSERT INTO kv (k, v) VALUES ('hello', 'world')"} {
				if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("DISTCACHE_TEST_DSN", dsn)
			cfg := writeFile(t, t.TempDir(), "groups.yaml", fmt.Sprintf(`
groups:
  - name: users
    capacity: 1MiB
    loader:
      kind: wasm
      plugin: sqlkv
      settings: {ttl: 90s}
      database: %s
      dsn_env: DISTCACHE_TEST_DSN
      max_open_conns: 2
`, s.kind))
			n := startNode(t, Config{ConfigPath: cfg, PluginsDir: t.TempDir()})
			c := n.clients(protocols()[0]).cache
			res, err := c.Get(t.Context(), connect.NewRequest(&distcachev1.GetRequest{Group: "users", Key: "hello"}))
			if err != nil || string(res.Msg.Value) != "world" || res.Msg.Source != distcachev1.Source_SOURCE_LOADER {
				t.Fatalf("Get through sqlkv on %s = %v, %v", s.kind, res, err)
			}
			if ttl := res.Msg.Ttl.AsDuration(); ttl <= 0 || ttl > 90*time.Second {
				t.Errorf("ttl = %v, want the loader's 90s", ttl)
			}
			_, err = c.Get(t.Context(), connect.NewRequest(&distcachev1.GetRequest{Group: "users", Key: "nobody"}))
			wantCode(t, err, connect.CodeNotFound)
		})
	}
}

// TestSharedSourceErrors: a shared loader whose DSN is missing, does not
// parse or reaches no server stops the node with an error naming the
// file, the field, the group and the database, never the password.
func TestSharedSourceErrors(t *testing.T) {
	const pw = "s3cret-pw-not-shown"
	dir := t.TempDir()
	for _, tc := range []struct {
		name, loader, env string
		wants             []string
	}{
		{"env unset", "{kind: postgres, dsn_env: DISTCACHE_TEST_UNSET}", "",
			[]string{"groups[0].loader", `group "orders"`, "dsn_env", "DISTCACHE_TEST_UNSET", "not set"}},
		{"bad dsn", "{kind: mysql, dsn_env: DISTCACHE_TEST_DSN}", "u:" + pw + "@tcp(h:1)nodb",
			[]string{"groups[0].loader", `group "orders"`, "mysql dsn"}},
		{"unreachable", "{kind: postgres, dsn_env: DISTCACHE_TEST_DSN}",
			"postgres://app:" + pw + "@127.0.0.1:1/shop?sslmode=disable&connect_timeout=2",
			[]string{"groups[0].loader", `group "orders"`, `connecting to postgres database "shop" on 127.0.0.1:1`}},
		{"wasm database env unset", "{kind: wasm, plugin: sqlkv, database: postgres, dsn_env: DISTCACHE_TEST_UNSET}", "",
			[]string{"groups[0].loader", `group "orders"`, "loader.database", "DISTCACHE_TEST_UNSET", "not set"}},
		{"wasm database in the simple protocol", "{kind: wasm, plugin: sqlkv, database: postgres, dsn_env: DISTCACHE_TEST_DSN}",
			"postgres://app:" + pw + "@127.0.0.1:1/shop?default_query_exec_mode=simple_protocol",
			[]string{"groups[0].loader", `group "orders"`, "loader.database", "simple_protocol", "extended protocol"}},
		{"wasm database unreachable", "{kind: wasm, plugin: sqlkv, database: mysql, dsn_env: DISTCACHE_TEST_DSN}",
			"app:" + pw + "@tcp(127.0.0.1:1)/shop?timeout=2s",
			[]string{"groups[0].loader", `group "orders"`, "loader.database", `connecting to mysql database "shop" on 127.0.0.1:1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DISTCACHE_TEST_DSN", tc.env)
			wt := "    write_through: true\n"
			if strings.Contains(tc.loader, "wasm") {
				wt = ""
			}
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml",
				"groups:\n  - name: orders\n    capacity: 1MiB\n"+wt+"    loader: "+tc.loader+"\n")
			n, err := New(context.Background(), Config{DBPath: filepath.Join(dir, "d.db"), ConfigPath: path, PluginsDir: t.TempDir()})
			if err == nil {
				n.Close()
				t.Fatal("New started with a bad shared source")
			}
			for _, want := range append(tc.wants, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New = %q\nwant it to name %q", err, want)
				}
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("New's error shows the password: %v", err)
			}
		})
	}
}
