package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/distcache/distcache/internal/testtool"
)

// Browser deadlines: the whole console test, and each wait for the page
// to show something (the page polls the node every 2 s).
const (
	browserTimeout = 60 * time.Second
	pageWait       = 10 * time.Second
)

// screenshotPath is where TestConsoleInChromium leaves its screenshot,
// relative to this package (e2e/artifacts/ is git-ignored).
const screenshotPath = "artifacts/console.png"

// TestConsoleInChromium drives the web console of a live node in headless
// Chromium: a Set and a Get through the key explorer, the stats section
// counting the Get, and the server's validation errors of a bad key shown
// in the page's error box. It leaves a screenshot in e2e/artifacts.
func TestConsoleInChromium(t *testing.T) {
	chromium := findChromium(t)
	n := startNode(t)
	ctx := newBrowser(t, chromium)
	console := watchConsole(ctx)

	mustDo(t, "open the console", chromedp.Do(ctx,
		chromedp.Navigate(n.baseURL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("key")),
	))
	waitPage(t, ctx, "the group select lists default",
		`document.querySelector('#group option[value="default"]') !== null`)
	before := getsShown(t, ctx)

	mustDo(t, "set ui-key", chromedp.Do(ctx,
		fillField("#key", "ui-key"),
		fillField("#value", "from the browser"),
		fillField("#ttl", "600"),
		chromedp.Click(chromedp.ID("set")),
	))
	waitPage(t, ctx, "the Set is confirmed", `document.querySelector('#result .done') !== null`)
	mustDo(t, "get ui-key", chromedp.Do(ctx, chromedp.Click(chromedp.ID("get"))))
	waitPage(t, ctx, "the Get shows the value", `document.querySelector('#result .value') !== null`)
	result := pageText(t, ctx, "#result")
	for _, want := range []string{"from the browser", "left", "local"} {
		if !strings.Contains(result, want) {
			t.Errorf("#result = %q, want it to contain %q (value, ttl and source)", result, want)
		}
	}
	waitPage(t, ctx, fmt.Sprintf("the stats count more than %d gets", before),
		fmt.Sprintf(`(%s) > %d`, getsJS, before))

	for _, c := range []struct{ name, key, rule string }{
		{"empty key", "", "string.min_bytes"},
		{"251-byte key", strings.Repeat("k", 251), "string.max_bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustDo(t, "get with a bad key", chromedp.Do(ctx,
				fillField("#key", c.key),
				chromedp.Evaluate[chromedp.Void](`document.querySelector('#error').hidden = true`),
				chromedp.Click(chromedp.ID("get")),
			))
			waitPage(t, ctx, "the error box shows", `!document.querySelector('#error').hidden`)
			msg := pageText(t, ctx, "#error")
			if !strings.Contains(msg, "key:") || !strings.Contains(msg, c.rule) {
				t.Errorf("#error = %q, want a violation of key naming %s", msg, c.rule)
			}
			if role := pageAttr(t, ctx, "#error", "role"); role != "alert" {
				t.Errorf(`#error has role %q, want "alert"`, role)
			}
		})
	}

	// The picture shows a Get's answer and a chart of a few samples.
	mustDo(t, "get ui-key again", chromedp.Do(ctx, fillField("#key", "ui-key"), chromedp.Click(chromedp.ID("get"))))
	waitPage(t, ctx, "the chart has 3 samples",
		`(document.querySelector('#stats polyline')?.getAttribute('points') ?? '').split(' ').length >= 3`)
	saveScreenshot(t, ctx)
	for _, m := range console.errors() {
		t.Errorf("page console: %s", m)
	}
}

// findChromium returns the path of Debian's chromium, or skips the test
// when it is missing (fails it where DISTCACHE_REQUIRE_TOOLS=1, as in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "chromium", "apt-get install -y chromium")
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// a context of one of its tabs; the browser stops, and its whole run is
// bounded by browserTimeout, when the test ends.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
	)
	// Registered after t.TempDir, so it runs first: the browser has left
	// its profile directory before the directory is removed.
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// pageConsole collects the errors and uncaught exceptions a page writes
// to its console. It is safe for concurrent use.
type pageConsole struct {
	mu   sync.Mutex
	errs []string
}

// watchConsole starts collecting the console errors of ctx's tab until
// ctx ends.
func watchConsole(ctx context.Context) *pageConsole {
	c := &pageConsole{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.errs = append(c.errs, m.String())
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// errors returns the errors collected so far.
func (c *pageConsole) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// getsJS is the gets count of group default that the stats section shows.
const getsJS = `Number((document.querySelector('#stats [data-group="default"] [data-stat="gets"]')?.textContent ?? "-1").replace(/,/g, ""))`

// getsShown returns the gets count of group default on the page.
func getsShown(t *testing.T, ctx context.Context) int {
	t.Helper()
	waitPage(t, ctx, "the stats show group default", `(`+getsJS+`) >= 0`)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](getsJS))
	mustDo(t, "read the gets count", err)
	return n
}

// waitPage waits up to pageWait for the JavaScript expression cond to be
// true on the page, failing the test with what if it is not.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(pageWait), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("waiting until %s (%s): %v\n#result: %q\n#error: %q", what, cond, err,
			peekText(ctx, "#result"), peekText(ctx, "#error"))
	}
}

// fillField sets the value of the form field sel as if typed.
func fillField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(el => { el.value = %s; el.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector(%s))`,
		jsString(value), jsString(sel)))
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// pageText returns the text content of the element sel.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return pageEval(t, ctx, fmt.Sprintf(`document.querySelector(%s)?.textContent ?? ""`, jsString(sel)))
}

// pageAttr returns the attribute attr of the element sel.
func pageAttr(t *testing.T, ctx context.Context, sel, attr string) string {
	t.Helper()
	return pageEval(t, ctx, fmt.Sprintf(`document.querySelector(%s)?.getAttribute(%s) ?? ""`, jsString(sel), jsString(attr)))
}

// pageEval returns the string the JavaScript expression expr gives.
func pageEval(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	mustDo(t, "evaluate "+expr, err)
	return s
}

// peekText is text for failure messages: it reports errors instead of failing.
func peekText(ctx context.Context, sel string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`document.querySelector(%s)?.textContent ?? ""`, jsString(sel))))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// saveScreenshot writes the whole page to screenshotPath and logs where.
func saveScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	mustDo(t, "take a screenshot", err)
	mustDo(t, "make the artifacts directory", os.MkdirAll(filepath.Dir(screenshotPath), 0o755))
	mustDo(t, "save the screenshot", os.WriteFile(screenshotPath, png, 0o644))
	abs, err := filepath.Abs(screenshotPath)
	mustDo(t, "resolve the screenshot path", err)
	t.Logf("screenshot: %s", abs)
}

// mustDo fails the test if err is not nil, saying what was being done.
func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
