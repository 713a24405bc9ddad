// Package config reads a node's groups file: the cache groups a node
// serves, named by the --config flag.
//
// The file is YAML with one document holding a list of groups:
//
//	groups:
//	  - name: default          # required; ^[a-z][a-z0-9_-]{0,62}$; unique in the file
//	    capacity: 64MiB        # required, > 0, <= 1TiB: bytes, or a string with a unit
//	    ttl: 10m               # optional; 0 or absent = entries never expire; 0..8760h
//	    negative_ttl: 30s      # optional; how long a not-found is remembered; 0 or absent = not remembered; 0..8760h
//	    load_timeout: 5s       # optional; deadline of one loader call; absent = 10s; > 0, <= 10m
//	    policy: lru            # optional eviction policy; absent = lru; ^[a-z][a-z0-9_-]{0,62}$
//	    write_through: true    # optional, default false; needs a loader of kind sqlite, postgres or mysql
//	    max_loads: 64          # optional; loader calls in flight at once on a node; absent or 0 = 64; 0..100000
//	    replicas: 2            # optional; nodes that keep each written key; absent or 0 = 2 in a cluster for a group without a loader, else 1; 0..7
//	    rate_limit:            # optional; calls per client (bearer token, or IP address) to Get/Set/Delete; absent = unlimited
//	      per_client: 100      # required; calls per second, > 0, <= 1000000; fractions allowed (0.5 = one call each 2s)
//	      burst: 200           # optional; calls at once; absent = per_client rounded up; 1..1000000
//	    loader:                # optional; absent = no loader (the group holds only what is Set)
//	      kind: sqlite         # required; known kinds: sqlite, postgres, mysql, wasm
//	      table: kv            # sqlite, postgres, mysql: optional, default kv; ^[A-Za-z_][A-Za-z0-9_]{0,62}$
//	      key_column: k        # sqlite, postgres, mysql: optional, default k; same rule
//	      value_column: v      # sqlite, postgres, mysql: optional, default v; same rule
//	      dsn: "postgres://app:pw@db1:5432/app"  # postgres, mysql: the database; this or dsn_env, not both
//	      dsn_env: DISTCACHE_PG_DSN # postgres, mysql: an environment variable holding the DSN; ^[A-Za-z_][A-Za-z0-9_]{0,127}$
//	      max_open_conns: 16   # postgres, mysql: optional; open connections per node and group; absent or 0 = 16; 0..10000
//	      max_idle_conns: 4    # postgres, mysql: optional; idle connections kept; absent or 0 = 4; 0..max_open_conns
//	      conn_max_lifetime: 30m # postgres, mysql: optional; a connection's age before it is replaced; absent or 0 = 30m; 0..24h
//	      plugin: sqlkv        # wasm: required; the loader plugin, plugins/<plugin>.wasm or a built-in one
//	      settings: {ttl: 30s} # wasm: optional; strings passed to the plugin on every call
//	      http_allow: ["https://api.example.com/v1/"] # wasm: optional; URL prefixes http_get may fetch; absent = none
//	      database: postgres   # wasm: optional; the shared database sql_query reads (postgres or mysql, with dsn or dsn_env
//	                           # and the pool settings above); absent = the node's SQLite file
//
// A postgres DSN is a pgx connection string (a postgres:// URL or
// key=value pairs); a mysql DSN is a go-sql-driver/mysql one
// (user:password@tcp(host:port)/db). Which environment variable holds it
// is checked here; that it is set, parses and reaches a server is checked
// when the node starts.
//
// A capacity is an integer number of bytes (1024) or a string of an integer
// and a unit, with or without one space: B, KB, MB, GB (powers of 1000) or
// KiB, MiB, GiB (powers of 1024); units are case-sensitive. A duration is a
// Go duration string (time.ParseDuration: "30s", "1h30m") or 0.
//
// Decoding is strict: an unknown or repeated field, a value of the wrong
// type, an empty file, a file with no groups and a file of more than one
// YAML document are errors. [Load] and [Parse] stop at the first problem and
// return it as an [*Error] naming the file, the line, the field path (such
// as groups[0].loader.table) and the problem.
package config

import "time"

// Defaults applied to a group or loader before its fields are decoded, so
// an absent field keeps them and an explicit one is validated as written.
const (
	defaultPolicy      = "lru"
	defaultLoadTimeout = Duration(10 * time.Second)
	defaultTable       = "kv"
	defaultKeyColumn   = "k"
	defaultValueColumn = "v"
)

// File is a parsed groups file. A File returned by [Load], [Parse] or
// [Default] is valid and has its defaults applied; it is not modified by
// this package afterwards, and is safe for concurrent reads.
type File struct {
	// Groups lists the node's cache groups in file order; it is never
	// empty and names are unique.
	Groups []Group `yaml:"groups"`
}

// Group configures one cache group.
type Group struct {
	// Name names the group in API calls; required.
	Name string `yaml:"name"`
	// Capacity bounds the bytes the group holds on this node; required.
	Capacity Bytes `yaml:"capacity"`
	// TTL is how long an entry lives; 0 (the default) means forever.
	TTL Duration `yaml:"ttl"`
	// NegativeTTL is how long a loader's not-found is remembered; 0 (the
	// default) means it is not remembered.
	NegativeTTL Duration `yaml:"negative_ttl"`
	// LoadTimeout is the deadline of one loader call; default 10s.
	LoadTimeout Duration `yaml:"load_timeout"`
	// Policy names the eviction policy; default "lru".
	Policy string `yaml:"policy"`
	// WriteThrough makes Set and Delete write to the loader's source
	// first; default false. It needs a loader of kind sqlite, postgres or
	// mysql.
	WriteThrough bool `yaml:"write_through"`
	// Replicas is how many nodes keep each written key in a cluster: the
	// owner and the next Replicas-1 members of the ring. Zero means the
	// default: 2 for a group without a loader in a cluster, else 1.
	Replicas int `yaml:"replicas"`
	// MaxLoads bounds the group's loader calls in flight on one node;
	// past it a load waits up to load_timeout for a slot. Zero means 64.
	MaxLoads int `yaml:"max_loads"`
	// RateLimit bounds the calls each client makes to the group; nil (the
	// default) means no limit.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Loader is the group's source on a miss; nil (the default) means the
	// group holds only what is Set.
	Loader *Loader `yaml:"loader"`
}

// RateLimit is a token bucket per client of a group: a client may make
// Burst calls at once, and PerClient more each second after that.
type RateLimit struct {
	// PerClient is the rate at which a client's bucket refills, in calls
	// per second; required, > 0.
	PerClient float64 `yaml:"per_client"`
	// Burst is the size of a client's bucket; default PerClient rounded
	// up.
	Burst int `yaml:"burst"`
}

// Loader configures a group's source.
type Loader struct {
	// Kind names the kind of source; required. Known kinds: "sqlite" (a
	// table of the node's database), "postgres" and "mysql" (a table of a
	// shared database) and "wasm" (a loader plugin).
	Kind string `yaml:"kind"`
	// Table is the table holding the keys; default "kv".
	Table string `yaml:"table"`
	// KeyColumn is the table's key column; default "k".
	KeyColumn string `yaml:"key_column"`
	// ValueColumn is the table's value column; default "v".
	ValueColumn string `yaml:"value_column"`
	// Plugin names the loader plugin, plugins/<plugin>.wasm (kind wasm;
	// required there).
	Plugin string `yaml:"plugin,omitempty"`
	// Settings are passed to the loader plugin on every call (kind wasm).
	Settings map[string]string `yaml:"settings,omitempty"`
	// HTTPAllow lists the URL prefixes the loader plugin may GET (kind
	// wasm); empty means no HTTP at all.
	HTTPAllow []string `yaml:"http_allow,omitempty"`
	// Database is the shared database a wasm loader's sql_query reads:
	// "postgres" or "mysql", reached through DSN or DSNEnv and the pool
	// settings below; absent, sql_query reads the node's SQLite file
	// (kind wasm).
	Database string `yaml:"database,omitempty"`
	// DSN is the shared database's data source name (kinds postgres and
	// mysql, and wasm with a Database); it or DSNEnv is required there. It may hold a password:
	// prefer DSNEnv, and never log it.
	DSN string `yaml:"dsn,omitempty"`
	// DSNEnv names the environment variable holding the DSN (kinds
	// postgres and mysql), read when the node starts.
	DSNEnv string `yaml:"dsn_env,omitempty"`
	// MaxOpenConns bounds the shared database's open connections, per
	// node and group; 0 (the default) means 16.
	MaxOpenConns int `yaml:"max_open_conns,omitempty"`
	// MaxIdleConns is how many idle connections are kept; 0 (the
	// default) means 4.
	MaxIdleConns int `yaml:"max_idle_conns,omitempty"`
	// ConnMaxLifetime is how long a connection is used before it is
	// replaced; 0 (the default) means 30m.
	ConnMaxLifetime Duration `yaml:"conn_max_lifetime,omitempty"`
}

// Shared reports whether l's kind is a shared SQL database (postgres or
// mysql), which every node of a cluster reaches.
func (l *Loader) Shared() bool { return l != nil && (l.Kind == kindPostgres || l.Kind == kindMySQL) }

// Writable reports whether l's kind can be written through to.
func (l *Loader) Writable() bool { return l != nil && (l.Kind == kindSQLite || l.Shared()) }

// Default returns the configuration a node uses without --config: one
// group "default" of 64MiB with entries that never expire, not-found
// remembered for 1m, a 10s load timeout, policy "lru", write-through, and a
// sqlite loader on table kv, columns k and v. Each call returns a new File.
func Default() *File {
	return &File{Groups: []Group{{
		Name:         "default",
		Capacity:     64 * MiB,
		NegativeTTL:  Duration(time.Minute),
		LoadTimeout:  defaultLoadTimeout,
		Policy:       defaultPolicy,
		WriteThrough: true,
		Loader: &Loader{
			Kind:        kindSQLite,
			Table:       defaultTable,
			KeyColumn:   defaultKeyColumn,
			ValueColumn: defaultValueColumn,
		},
	}}}
}

// Group returns the group named name and true, or a zero Group and false
// if the file has no such group.
func (f *File) Group(name string) (Group, bool) {
	for _, g := range f.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// setDefaults fills the fields that have defaults; called before decoding.
func (g *Group) setDefaults() {
	g.Policy = defaultPolicy
	g.LoadTimeout = defaultLoadTimeout
}

// setDefaults fills the table defaults of the SQL kinds; called before
// decoding.
func (l *Loader) setDefaults() {
	l.Table = defaultTable
	l.KeyColumn = defaultKeyColumn
	l.ValueColumn = defaultValueColumn
}
