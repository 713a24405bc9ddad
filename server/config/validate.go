package config

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Limits on a group's values.
const (
	maxCapacity    = TiB
	maxTTL         = Duration(365 * 24 * time.Hour)
	maxLoadTimeout = Duration(10 * time.Minute)
	kindSQLite     = "sqlite"
	kindPostgres   = "postgres"
	kindMySQL      = "mysql"
	kindWasm       = "wasm"
	knownKinds     = "sqlite, postgres, mysql, wasm"

	maxConns           = 10_000
	maxConnMaxLifetime = Duration(24 * time.Hour)
)

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// sharedFields are the loader fields only the shared kinds take.
var sharedFields = []string{"dsn", "dsn_env", "max_open_conns", "max_idle_conns", "conn_max_lifetime"}

// checker validates a decoded File and builds its errors.
type checker struct {
	file string
	// lines maps field paths to lines, as the decoder recorded them; nil
	// for a File built in code.
	lines map[string]int
	// top is the line of the top-level mapping, for the groups field.
	top int
}

// validate returns the first problem in f, or nil.
func validate(c checker, f *File) error {
	if len(f.Groups) == 0 {
		return c.errorf("groups", "is required and must list at least one group")
	}
	seen := map[string]int{}
	for i, g := range f.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		if err := c.group(path, g); err != nil {
			return err
		}
		if first, dup := seen[g.Name]; dup {
			return c.errorf(path+".name", "duplicate group name %q (first at groups[%d])", g.Name, first)
		}
		seen[g.Name] = i
	}
	return nil
}

// maxReplicas bounds a group's replicas: each write waits on a majority.
const maxReplicas = 7

// maxMaxLoads bounds a group's max_loads.
const maxMaxLoads = 100_000

// group returns the first problem in g, found at path, or nil.
func (c checker) group(path string, g Group) error {
	switch {
	case g.Name == "":
		return c.errorf(path+".name", "is required")
	case !nameRE.MatchString(g.Name):
		return c.errorf(path+".name", "%q is not a valid name (want %s)", g.Name, nameRE)
	case g.Capacity == 0:
		return c.errorf(path+".capacity", "is required and must be > 0")
	case g.Capacity < 0:
		return c.errorf(path+".capacity", "must be > 0, not %d", g.Capacity)
	case g.Capacity > maxCapacity:
		return c.errorf(path+".capacity", "%s is too large (max 1TiB)", g.Capacity)
	case g.Policy == "" || !nameRE.MatchString(g.Policy):
		return c.errorf(path+".policy", "%q is not a valid policy name (want %s)", g.Policy, nameRE)
	case g.WriteThrough && !g.Loader.Writable():
		return c.errorf(path+".write_through", "is only allowed with a loader of kind sqlite, postgres or mysql")
	case g.Replicas < 0 || g.Replicas > maxReplicas:
		return c.errorf(path+".replicas", "must be 0 to %d, not %d", maxReplicas, g.Replicas)
	case g.MaxLoads < 0 || g.MaxLoads > maxMaxLoads:
		return c.errorf(path+".max_loads", "must be 0 to %d, not %d", maxMaxLoads, g.MaxLoads)
	}
	if err := c.durations(path, g); err != nil {
		return err
	}
	if g.RateLimit != nil {
		if err := c.rateLimit(path+".rate_limit", g.RateLimit); err != nil {
			return err
		}
	}
	if g.Loader != nil {
		return c.loader(path+".loader", *g.Loader)
	}
	return nil
}

// maxRate bounds a rate limit's per_client and burst.
const maxRate = 1_000_000

// rateLimit returns the first problem in r, found at path, or nil. A burst
// not in the file defaults to per_client rounded up: the default depends
// on another field, so it is filled here, after decoding, not before.
func (c checker) rateLimit(path string, r *RateLimit) error {
	// Written so that NaN fails too.
	if !(r.PerClient > 0 && r.PerClient <= maxRate) {
		return c.errorf(path+".per_client", "is required and must be > 0 and <= %d calls per second, not %g", maxRate, r.PerClient)
	}
	if _, given := c.lines[path+".burst"]; !given && r.Burst == 0 {
		r.Burst = int(math.Ceil(r.PerClient))
	}
	if r.Burst < 1 || r.Burst > maxRate {
		return c.errorf(path+".burst", "must be 1 to %d, not %d", maxRate, r.Burst)
	}
	return nil
}

// durations returns the first problem in g's durations, or nil.
func (c checker) durations(path string, g Group) error {
	if err := c.upTo(path+".ttl", g.TTL, maxTTL); err != nil {
		return err
	}
	if err := c.upTo(path+".negative_ttl", g.NegativeTTL, maxTTL); err != nil {
		return err
	}
	if g.LoadTimeout <= 0 {
		return c.errorf(path+".load_timeout", "must be > 0, not %s", g.LoadTimeout)
	}
	return c.upTo(path+".load_timeout", g.LoadTimeout, maxLoadTimeout)
}

// upTo checks that 0 <= d <= hi.
func (c checker) upTo(path string, d, hi Duration) error {
	switch {
	case d < 0:
		return c.errorf(path, "must not be negative, not %s", d)
	case d > hi:
		return c.errorf(path, "%s is too long (max %s)", d, hi)
	}
	return nil
}

// loader returns the first problem in l, found at path, or nil.
func (c checker) loader(path string, l Loader) error {
	switch l.Kind {
	case kindSQLite:
		if err := c.only(path, kindSQLite, append([]string{"plugin", "settings", "http_allow", "database"}, sharedFields...)...); err != nil {
			return err
		}
	case kindPostgres, kindMySQL:
		if err := c.sharedLoader(path, l); err != nil {
			return err
		}
	case kindWasm:
		return c.wasmLoader(path, l)
	case "":
		return c.errorf(path+".kind", "is required (known: %s)", knownKinds)
	default:
		return c.errorf(path+".kind", "unknown loader kind %q (known: %s)", l.Kind, knownKinds)
	}
	for _, id := range []struct{ field, value string }{
		{"table", l.Table}, {"key_column", l.KeyColumn}, {"value_column", l.ValueColumn},
	} {
		if !identifierRE.MatchString(id.value) {
			return c.errorf(path+"."+id.field, "%q is not a valid SQL identifier (want %s)", id.value, identifierRE)
		}
	}
	return nil
}

// errorf returns an *Error for the field at path, on its line or, for a
// field not in the file, on the line of the nearest enclosing one.
func (c checker) errorf(path, format string, args ...any) *Error {
	return &Error{File: c.file, Line: c.line(path), Field: path, Problem: fmt.Sprintf(format, args...)}
}

// line returns the line of path or of its nearest enclosing field.
func (c checker) line(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		path = path[:max(strings.LastIndexAny(path, ".["), 0)]
	}
	return c.top
}

// only refuses fields given in the file that the loader kind does not use.
func (c checker) only(path, kind string, fields ...string) error {
	for _, f := range fields {
		if _, given := c.lines[path+"."+f]; given {
			return c.errorf(path+"."+f, "is not a setting of a %s loader", kind)
		}
	}
	return nil
}

// wasmLoader checks a loader of kind wasm: with a database, the DSN's
// source and the pool as for a shared loader.
func (c checker) wasmLoader(path string, l Loader) error {
	if err := c.only(path, kindWasm, "table", "key_column", "value_column"); err != nil {
		return err
	}
	switch l.Database {
	case "":
		for _, f := range sharedFields {
			if _, given := c.lines[path+"."+f]; given {
				return c.errorf(path+"."+f, "is a setting of the database sql_query reads: give database (%s or %s) with it", kindPostgres, kindMySQL)
			}
		}
	case kindPostgres, kindMySQL:
		if err := c.dsnAndPool(path, l.Database+" database", l); err != nil {
			return err
		}
	default:
		return c.errorf(path+".database", "unknown database %q for sql_query (known: %s, %s; absent = the node's SQLite file)", l.Database, kindPostgres, kindMySQL)
	}
	if !nameRE.MatchString(l.Plugin) {
		return c.errorf(path+".plugin", "%q is not a plugin name (want %s, the file plugins/<plugin>.wasm)", l.Plugin, nameRE)
	}
	for i, prefix := range l.HTTPAllow {
		if !strings.HasPrefix(prefix, "http://") && !strings.HasPrefix(prefix, "https://") {
			return c.errorf(fmt.Sprintf("%s.http_allow[%d]", path, i), "%q is not an http:// or https:// URL prefix", prefix)
		}
	}
	return nil
}

// sharedLoader checks the fields of a loader of kind postgres or mysql
// other than its table's: the DSN's source and the pool.
func (c checker) sharedLoader(path string, l Loader) error {
	if err := c.only(path, l.Kind, "plugin", "settings", "http_allow", "database"); err != nil {
		return err
	}
	return c.dsnAndPool(path, l.Kind+" loader", l)
}

// dsnAndPool checks the DSN's source and the pool of a shared database,
// which what (such as "postgres loader") reaches.
func (c checker) dsnAndPool(path, what string, l Loader) error {
	switch {
	case l.DSN != "" && l.DSNEnv != "":
		return c.errorf(path+".dsn_env", "give dsn or dsn_env, not both")
	case l.DSN == "" && l.DSNEnv == "":
		return c.errorf(path+".dsn", "is required for a %s (or dsn_env, naming an environment variable holding it)", what)
	case l.DSN == "" && !envNameRE.MatchString(l.DSNEnv):
		return c.errorf(path+".dsn_env", "%q is not an environment variable name (want %s)", l.DSNEnv, envNameRE)
	case l.MaxOpenConns < 0 || l.MaxOpenConns > maxConns:
		return c.errorf(path+".max_open_conns", "must be 0 to %d, not %d", maxConns, l.MaxOpenConns)
	case l.MaxIdleConns < 0 || l.MaxIdleConns > maxConns:
		return c.errorf(path+".max_idle_conns", "must be 0 to %d, not %d", maxConns, l.MaxIdleConns)
	case l.MaxOpenConns > 0 && l.MaxIdleConns > l.MaxOpenConns:
		return c.errorf(path+".max_idle_conns", "%d is more than max_open_conns (%d)", l.MaxIdleConns, l.MaxOpenConns)
	}
	return c.upTo(path+".conn_max_lifetime", l.ConnMaxLifetime, maxConnMaxLifetime)
}
