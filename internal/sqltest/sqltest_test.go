package sqltest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// TestServers starts each server, makes a database on it and writes to it.
func TestServers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *Server
	}{{"postgres", Postgres}, {"mysql", MySQL}} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start(t)
			t.Logf("%s on %s, started in %v", s.Kind, s.Addr, s.Startup)
			db := s.Open(t, s.NewDatabase(t))
			if _, err := db.ExecContext(t.Context(), "CREATE TABLE x (k VARCHAR(10) PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), "INSERT INTO x VALUES ('a')"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
