package testtool

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }

func TestMissing(t *testing.T) {
	t.Setenv("DISTCACHE_REQUIRE_TOOLS", "")
	r := &recorder{TB: t}
	Missing(r, "frob is not installed", "apt-get install -y frob")
	if r.failed != "" || !strings.Contains(r.skipped, "apt-get install -y frob") {
		t.Errorf("without DISTCACHE_REQUIRE_TOOLS: failed %q, skipped %q; want a skip naming the install command", r.failed, r.skipped)
	}
	t.Setenv("DISTCACHE_REQUIRE_TOOLS", "1")
	r = &recorder{TB: t}
	Missing(r, "frob is not installed", "apt-get install -y frob")
	if r.skipped != "" || !strings.Contains(r.failed, "frob is not installed") || !strings.Contains(r.failed, "DISTCACHE_REQUIRE_TOOLS=1") {
		t.Errorf("with DISTCACHE_REQUIRE_TOOLS=1: failed %q, skipped %q; want a failure", r.failed, r.skipped)
	}
}

func TestPath(t *testing.T) {
	if p := Path(t, "go", "https://go.dev/dl"); !strings.HasSuffix(p, "go") {
		t.Errorf("Path(go) = %q", p)
	}
	t.Setenv("DISTCACHE_REQUIRE_TOOLS", "1")
	r := &recorder{TB: t}
	Path(r, "distcache-no-such-tool", "nothing")
	if !strings.Contains(r.failed, "distcache-no-such-tool is not installed") {
		t.Errorf("Path of a missing tool: failed %q, skipped %q", r.failed, r.skipped)
	}
}
