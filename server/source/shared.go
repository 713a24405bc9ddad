package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Kinds of shared SQL database [OpenShared] opens.
const (
	// KindPostgres is PostgreSQL, through pgx.
	KindPostgres = "postgres"
	// KindMySQL is MySQL or MariaDB, through go-sql-driver/mysql.
	KindMySQL = "mysql"
)

// Pool defaults of a shared database.
const (
	// DefaultMaxOpenConns is the default bound on a shared database's open
	// connections, per node and group.
	DefaultMaxOpenConns = 16
	// DefaultMaxIdleConns is the default number of idle connections kept.
	DefaultMaxIdleConns = 4
	// DefaultConnMaxLifetime is the default age past which a connection is
	// closed and replaced, so that a fail-over or a proxy's idle cut-off
	// is followed.
	DefaultConnMaxLifetime = 30 * time.Minute
)

// connectTimeout bounds the first connection [OpenShared] makes when ctx
// has no earlier deadline.
const connectTimeout = 10 * time.Second

// SharedConfig says how to reach a shared SQL database.
type SharedConfig struct {
	// Kind is [KindPostgres] or [KindMySQL].
	Kind string
	// DSN is the data source name: a pgx connection string
	// (postgres://user:password@host:port/db?sslmode=disable, or
	// key=value pairs) or a go-sql-driver/mysql DSN
	// (user:password@tcp(host:port)/db). Never logged nor put in errors.
	DSN string
	// MaxOpenConns bounds the open connections; 0 means
	// [DefaultMaxOpenConns].
	MaxOpenConns int
	// MaxIdleConns is how many idle connections are kept; 0 means
	// [DefaultMaxIdleConns].
	MaxIdleConns int
	// ConnMaxLifetime is how long a connection is used; 0 means
	// [DefaultConnMaxLifetime].
	ConnMaxLifetime time.Duration
}

// OpenShared opens a pool on the shared database cfg names and checks,
// within ctx (or 10s), that it answers. Unlike [Open] it makes no demo
// table: the tables are the user's. Errors name the database by kind,
// address and name, never with the DSN's password.
func OpenShared(ctx context.Context, cfg SharedConfig) (*DB, error) {
	d, desc, err := describeDSN(cfg.Kind, cfg.DSN)
	if err != nil {
		return nil, err
	}
	handle, err := sql.Open(d.driver, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", desc, err)
	}
	handle.SetMaxOpenConns(orDefault(cfg.MaxOpenConns, DefaultMaxOpenConns))
	handle.SetMaxIdleConns(orDefault(cfg.MaxIdleConns, DefaultMaxIdleConns))
	handle.SetConnMaxLifetime(orDefault(cfg.ConnMaxLifetime, DefaultConnMaxLifetime))
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	if err := handle.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("connecting to %s: %w", desc, err), handle.Close())
	}
	return &DB{sql: handle, path: desc, dialect: d}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// describeDSN parses dsn for kind and returns its dialect and a
// description of the database without credentials, such as
// `postgres database "app" on db1:5432`.
func describeDSN(kind, dsn string) (*dialect, string, error) {
	switch kind {
	case KindPostgres:
		// pgx's parse errors show the DSN with its password masked.
		c, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, "", fmt.Errorf("postgres dsn: %w", err)
		}
		return postgresDialect, fmt.Sprintf("postgres database %q on %s:%d", c.Database, c.Host, c.Port), nil
	case KindMySQL:
		// go-sql-driver's parse errors do not quote the DSN.
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, "", fmt.Errorf("mysql dsn: %w", err)
		}
		return mysqlDialect, fmt.Sprintf("mysql database %q on %s", c.DBName, c.Addr), nil
	}
	return nil, "", fmt.Errorf("unknown kind of shared database %q (known: %s, %s)", kind, KindPostgres, KindMySQL)
}

// Shared reports whether db is a shared database (from [OpenShared]),
// which every node of a cluster reaches, rather than a node's own file.
func (db *DB) Shared() bool { return db.dialect != sqliteDialect }

// OneStatementDSN returns dsn, of a database of kind, made to run at most
// one statement per query, for a pool whose queries come from loader
// plugins: go-sql-driver/mysql's multiStatements is turned off, and a pgx
// DSN asking for the simple protocol (default_query_exec_mode
// simple_protocol), which runs every statement of a query, is refused.
// Errors never quote the DSN.
func OneStatementDSN(kind, dsn string) (string, error) {
	switch kind {
	case KindPostgres:
		c, err := pgx.ParseConfig(dsn)
		if err != nil {
			return "", fmt.Errorf("postgres dsn: %w", err)
		}
		if c.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
			return "", errors.New("postgres dsn: default_query_exec_mode=simple_protocol runs several statements a query; sql_query needs the extended protocol (leave the setting out)")
		}
		return dsn, nil
	case KindMySQL:
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			return "", fmt.Errorf("mysql dsn: %w", err)
		}
		c.MultiStatements = false
		return c.FormatDSN(), nil
	}
	return "", fmt.Errorf("unknown kind of shared database %q (known: %s, %s)", kind, KindPostgres, KindMySQL)
}
