// Package testtool is how tests find the external tools they need (curl,
// clang, chromium, redis-cli, ...): a test whose tool is missing is
// skipped with the command that installs it, or failed where
// DISTCACHE_REQUIRE_TOOLS=1, as .ci/run sets, so that CI never counts a
// skipped test as a passing one.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether a missing tool fails a test rather than
// skipping it: DISTCACHE_REQUIRE_TOOLS=1.
func Required() bool { return os.Getenv("DISTCACHE_REQUIRE_TOOLS") == "1" }

// Missing ends tb because a tool is missing or cannot do its job: why
// says what, install how to get it (such as "apt-get install -y curl").
// It skips tb, or fails it where [Required].
func Missing(tb testing.TB, why, install string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s (DISTCACHE_REQUIRE_TOOLS=1; install with: %s)", why, install)
		return
	}
	tb.Skipf("%s; install with: %s", why, install)
}

// Path returns the path of the program name on PATH, or ends tb with
// [Missing] when there is none.
func Path(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name+" is not installed", install)
	}
	return path
}
