package ui_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/internal/wasmbuild"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/node"
	"github.com/distcache/distcache/server/ui"
)

func TestHandler(t *testing.T) {
	h := ui.Handler()
	page := httptest.NewRecorder()
	h.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/ui/", nil))
	etag := page.Header().Get("ETag")
	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		code               int
		contentType        string // prefix; empty checks nothing
		body               string // substring; empty checks nothing
	}{
		{"page", "GET", "/ui/", nil, 200, "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"script", "GET", "/ui/app.js", nil, 200, "text/javascript; charset=utf-8", ""},
		{"styles", "GET", "/ui/style.css", nil, 200, "text/css; charset=utf-8", ""},
		{"head", "HEAD", "/ui/", nil, 200, "text/html", ""},
		{"unchanged page", "GET", "/ui/", map[string]string{"If-None-Match": etag}, 304, "", ""},
		{"index.html goes to the directory", "GET", "/ui/index.html", nil, 301, "", ""},
		{"missing file", "GET", "/ui/nope.js", nil, 404, "text/plain", ""},
		{"post", "POST", "/ui/", nil, 405, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code {
				t.Fatalf("%s %s: code %d, want %d", c.method, c.path, rec.Code, c.code)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, c.contentType) {
				t.Errorf("Content-Type %q, want %q", got, c.contentType)
			}
			if !strings.Contains(rec.Body.String(), c.body) {
				t.Errorf("body lacks %q", c.body)
			}
			if c.code == 200 && rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", rec.Header().Get("Cache-Control"))
			}
		})
	}
	if etag == "" {
		t.Error("the page has no ETag")
	}
}

// Deadlines of the Chromium test: the node loading its plugin or falling
// back (compiling is slow under the race detector), and the console
// showing what the test waits for.
const (
	nodeWait = 3 * time.Minute
	pageWait = time.Minute
)

// TestConsoleShowsPluginState loads the console of a live node in
// headless Chromium and reads the Plugins section from the page's DOM. A
// policy plugin that serves its group shows "serving", no failures and
// its group on the plugin; once the plugin panics
// (server/plugin/testdata/badpolicy, on an insert of cost 666) the
// console shows it "failed", one failure with the panic's message, and
// its group on the native fallback.
func TestConsoleShowsPluginState(t *testing.T) {
	chromium := findChromium(t)
	url, g := startBadPolicyNode(t)

	row := waitConsole(t, chromium, url, "bad serving", `data-state="serving"`)
	for _, want := range []string{
		`data-failures="0"`,
		`data-last-failure=""`,
		`data-plugin-group="g" data-group-state="plugin"`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("bad's row before the panic lacks %s:\n%s", want, row)
		}
	}

	setCost(t, g, "trigger", 666) // the next update panics
	for i := range 40 {
		setCost(t, g, fmt.Sprint("k", i), 300)
	}
	waitNode(t, "g on the native LRU", func() bool { return g.Stats().Policy == "lru (native)" })

	row = waitConsole(t, chromium, url, "bad failed", `data-state="failed"`)
	for _, want := range []string{
		`data-failures="1"`,
		`data-plugin-group="g" data-group-state="native fallback"`,
		`>trap</span> group g, `,
		`>distcache_policy_update: panic: badpolicy: trap on purpose`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("bad's row after the panic lacks %s:\n%s", want, row)
		}
	}
}

// startBadPolicyNode serves, until the test ends, a node whose group g
// (8 KiB) has the policy bad, built from server/plugin/testdata/badpolicy,
// and returns its URL and g once bad serves g.
func startBadPolicyNode(t *testing.T) (string, *cache.Group) {
	t.Helper()
	var wasm wasmbuild.Builder
	t.Cleanup(wasm.Cleanup)
	plugins, dir := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(plugins, "bad.wasm"), wasm.Bytes(t, "server/plugin/testdata/badpolicy"))
	groups := filepath.Join(dir, "groups.yaml")
	writeFile(t, groups, []byte("groups:\n  - name: g\n    capacity: 8KiB\n    policy: bad\n"))

	n, err := node.New(context.Background(), node.Config{ConfigPath: groups, PluginsDir: plugins,
		NoBuiltinPlugins: true, DBPath: filepath.Join(dir, "distcache.db")})
	if err != nil {
		t.Fatalf("starting the node: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	g, ok := n.Group("g")
	if !ok {
		t.Fatal("the node has no group g")
	}
	waitNode(t, "bad to serve g", func() bool { return strings.HasPrefix(g.Stats().Policy, "bad (wasm") })
	return "http://" + ln.Addr().String(), g
}

// setCost stores key in g with a value that makes its entry cost exactly
// cost bytes.
func setCost(t *testing.T, g *cache.Group, key string, cost int) {
	t.Helper()
	if err := g.Set(context.Background(), key, make([]byte, cost-len(key)-cache.EntryOverhead), 0); err != nil {
		t.Fatalf("set %s: %v", key, err)
	}
}

// writeFile writes data to path, failing the test if it cannot.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitNode polls ok until it is true, failing the test after nodeWait.
func waitNode(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(nodeWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", nodeWait, what)
		case <-tick.C:
		}
	}
}

// findChromium returns the path of Debian's chromium, or skips the test
// when it is missing (fails it where DISTCACHE_REQUIRE_TOOLS=1, as in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "chromium", "apt-get install -y chromium")
}

// pluginRow matches the console's table row of plugin bad.
var pluginRow = regexp.MustCompile(`(?s)<tr data-plugin="bad">.*?</tr>`)

// waitConsole loads the console of the node at url in headless Chromium
// until the row of plugin bad contains want, and returns the row's HTML;
// it fails the test with what after pageWait. Each load is a fresh page,
// which asks for the plugin list at once.
func waitConsole(t *testing.T, chromium, url, what, want string) string {
	t.Helper()
	deadline := time.Now().Add(pageWait)
	for {
		dom := consoleDOM(t, chromium, url)
		row := pluginRow.FindString(dom)
		if strings.Contains(row, want) {
			return row
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting until the console shows %s (%s): the row of bad is %q; the page:\n%s", what, want, row, dom)
		}
	}
}

// consoleDOM opens the console in a headless Chromium with a fresh
// profile, lets its scripts run for 5 s of virtual time (virtual time
// stands still while a fetch is pending, so the first poll's answers are
// in), and returns the page's DOM as HTML.
func consoleDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pageWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", url+"/ui/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\n%s", chromium, err, stderr.String())
	}
	return string(out)
}
