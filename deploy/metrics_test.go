package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// scrapeMade are the series Prometheus makes for each target itself, so no
// node exports them.
var scrapeMade = map[string]bool{"up": true}

// grafanaVars stand for a duration in a Grafana query; replaced before the
// query is parsed as PromQL. Other variables ($job, $instance) appear
// only inside label matchers' strings.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValues is Grafana's label_values(SELECTOR, LABEL) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// TestQueriedMetricsAreExported checks that every metric the Grafana
// dashboard and the alert rules query is one a live node exports: it
// parses each query as PromQL, starts a node built from this repository,
// drives a little traffic (a load, a hit, a not-found, evictions, a
// refused plugin), and looks each name up in GET /metrics.
func TestQueriedMetricsAreExported(t *testing.T) {
	queried := map[string][]string{} // metric name -> where it is queried
	for _, q := range dashboardQueries(t) {
		for _, name := range metricNames(t, q.expr) {
			queried[name] = append(queried[name], q.where)
		}
	}
	for _, q := range ruleQueries(t) {
		for _, name := range metricNames(t, q.expr) {
			queried[name] = append(queried[name], q.where)
		}
	}
	if len(queried) < 20 {
		t.Fatalf("found only %d metric names in the dashboard and rules; is the extraction broken?", len(queried))
	}

	exported := exportedMetrics(t)
	names := make([]string, 0, len(queried))
	for name := range queried {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !exported[name] && !scrapeMade[name] {
			t.Errorf("metric %s is queried by %s but the node does not export it", name, strings.Join(slices.Compact(queried[name]), ", "))
		}
	}
	t.Logf("%d queried metrics, all exported", len(names))
}

type query struct{ where, expr string }

// dashboardQueries are the dashboard's panel queries ("expr") and its
// variables' label_values selectors.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile("grafana/dashboards/distcache.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/dashboards/distcache.json: %v", err)
	}
	var qs []query
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, query{"dashboard panel " + p.Title, grafanaVars.Replace(tg.Expr)})
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Fatalf("dashboard variable %s: %q is not label_values(SELECTOR, LABEL)", v.Name, v.Definition)
		}
		qs = append(qs, query{"dashboard variable " + v.Name, m[1]})
	}
	return qs
}

// ruleQueries are the alert rules' expressions.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	var qs []query
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{"alert " + r.Alert, r.Expr})
		}
	}
	return qs
}

// metricNames parses expr as PromQL and returns the metric names its
// selectors name.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("not PromQL: %q: %v", expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%q: a selector without a metric name", expr)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// exportedMetrics starts a node, drives traffic into it and returns the
// names of the samples on its /metrics page (a histogram's
// _bucket, _sum and _count among them).
func exportedMetrics(t *testing.T) map[string]bool {
	bin := nodeBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "groups.yaml")
	plugins := filepath.Join(dir, "plugins")
	must(t, os.WriteFile(config, []byte(`groups:
  - name: default
    capacity: 64MiB
    negative_ttl: 1m
    loader: {kind: sqlite}
  - name: small
    capacity: 16KiB
`), 0o644))
	must(t, os.Mkdir(plugins, 0o755))
	// Not a WebAssembly module: refused, and counted by plugin and reason.
	must(t, os.WriteFile(filepath.Join(plugins, "broken.wasm"), []byte("not wasm"), 0o644))

	addr := freeAddr(t)
	cmd := exec.Command(bin, "--addr", addr, "--db", filepath.Join(dir, "node.db"), "--config", config,
		"--plugins", plugins, "--plugin-cache", "", "--shutdown-delay", "0s")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitReady(t, base+"/readyz")

	call(t, "GET", base+"/kv/default/hello", "", 200) // a miss and a load
	call(t, "GET", base+"/kv/default/hello", "", 200) // a hit
	call(t, "GET", base+"/kv/default/nope", "", 404)  // a load that finds nothing
	call(t, "GET", base+"/kv/default/nope", "", 404)  // a negative hit
	call(t, "GET", base+"/kv/nosuch/key", "", 404)    // an unknown group
	for i := range 64 {                               // 64 values of 1 KiB into 16 KiB: evictions
		call(t, "PUT", fmt.Sprintf("%s/kv/small/k%d", base, i), strings.Repeat("x", 1024), 204)
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		names := scrape(t, base+"/metrics")
		if names["distcache_plugin_failures_total"] && names["distcache_evictions_total"] || time.Now().After(deadline) {
			return names
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func call(t *testing.T, method, url, body string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 30s", url)
}

// freeAddr is a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
