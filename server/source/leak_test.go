package source

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/distcache/distcache/internal/sqltest"
)

// TestMain fails the package's tests if any goroutine they started is
// still running when they end, after stopping the database servers the
// shared-database tests started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(sqltest.Wrap(m))
}
