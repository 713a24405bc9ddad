package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/internal/testtool"
)

// curlCase is one buf curl call in TestBufCurl.
type curlCase struct {
	name   string
	method string   // such as distcache.v1.CacheService/Get; empty calls the base URL
	args   []string // more buf curl flags, such as -d BODY
	stream bool     // read only the first message of a server stream
	check  func(t *testing.T, r curlResult)
}

// TestBufCurl calls every public RPC of a live node with the real buf
// curl, schema from reflection only, over gRPC, gRPC-Web and Connect.
// Each protocol gets its own node, so the cases of one protocol run in
// order against state no other protocol touches.
func TestBufCurl(t *testing.T) {
	for _, proto := range []string{"grpc", "grpcweb", "connect"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, "--admin-token", "tok")
			base := []string{"--protocol", proto, "--http2-prior-knowledge"}
			for _, c := range curlCases("k-" + proto) {
				t.Run(c.name, func(t *testing.T) {
					url := n.baseURL
					if c.method != "" {
						url += "/" + c.method
					}
					args := append(slices.Concat(base, c.args), url)
					if c.stream {
						c.check(t, bufCurlFirst(t, args...))
					} else {
						c.check(t, bufCurl(t, args...))
					}
				})
			}
		})
	}
}

// curlCases returns the calls of TestBufCurl in the order they run; key is
// the protocol's own key for Set and Delete.
func curlCases(key string) []curlCase {
	const (
		get    = "distcache.v1.CacheService/Get"
		purge  = "distcache.v1.AdminService/Purge"
		policy = "distcache.v1.AdminService/SetGroupPolicy"
		owner  = "distcache.v1.ClusterService/Owner"
	)
	keyBody := `{"group":"default","key":"` + key + `"}`
	// This node runs no policy plugin "nosuch": a switch to it must be
	// refused, and only after the token is checked.
	policyBody := data(`{"group":"default","policy":"nosuch"}`)
	token := []string{"-H", "Authorization: Bearer tok"}
	return []curlCase{
		{"Get", get, data(`{"group":"default","key":"hello"}`), false, wantValue("d29ybGQ=")},
		{"Set", "distcache.v1.CacheService/Set",
			data(`{"group":"default","key":"` + key + `","value":"dmFsdWU="}`), false, wantEmpty},
		{"GetAfterSet", get, data(keyBody), false, wantValue("dmFsdWU=")},
		{"Delete", "distcache.v1.CacheService/Delete", data(keyBody), false, wantEmpty},
		{"GetAfterDelete", get, data(keyBody), false, wantError("not_found", key)},
		{"GetStats", "distcache.v1.AdminService/GetStats", data(`{}`), false, wantDefaultStats},
		{"Purge", purge, slices.Concat(token, data(`{"group":"default"}`)), false, wantRemoved},
		{"PurgeNoToken", purge, data(`{"group":"default"}`), false, wantError("unauthenticated", "")},
		{"PurgeWrongToken", purge, append(data(`{"group":"default"}`), "-H", "Authorization: Bearer nope"),
			false, wantError("unauthenticated", "")},
		{"ListPlugins", "distcache.v1.AdminService/ListPlugins", data(`{}`), false, wantPlugins},
		{"SetGroupPolicy", policy, slices.Concat(token, policyBody), false, wantError("failed_precondition", "nosuch")},
		{"SetGroupPolicyNoToken", policy, policyBody, false, wantError("unauthenticated", "")},
		{"ListMembers", "distcache.v1.ClusterService/ListMembers", data(`{}`), false, wantMembers},
		{"Owner", owner, data(`{"key":"hello"}`), false, wantOwner},
		{"OwnerInvalidKey", owner, data(`{"key":""}`), false, wantError("invalid_argument", "key")},
		{"HealthCheck", "grpc.health.v1.Health/Check", data(`{}`), false, wantField("status", "SERVING")},
		{"HealthList", "grpc.health.v1.Health/List", data(`{}`), false, wantListed},
		{"HealthWatch", "grpc.health.v1.Health/Watch", data(`{"service":"distcache.v1.CacheService"}`),
			true, wantField("status", "SERVING")},
		{"ListServices", "", []string{"--list-services"}, false, wantListing(publicServices)},
		{"ListMethods", "", []string{"--list-methods"}, false, wantListing(publicMethods)},
		{"InvalidKey", get, data(`{"group":"default","key":""}`), false, wantError("invalid_argument", "key")},
		{"GetMany", "distcache.v1.CacheService/GetMany", data(`{"group":"default","keys":["hello",""]}`), false,
			func(t *testing.T, r curlResult) { wantJSON(t, r) }},
		{"Pipeline", "distcache.v1.CacheService/Pipeline",
			data(`{"id":"1","get":{"group":"default","key":"hello"}} {"id":"2","get":{"group":"default","key":""}}`), false, wantAnswers},
	}
}

// wantAnswers checks that r is a pipeline's answers: JSON messages, each
// with an id, one of them an invalid_argument.
func wantAnswers(t *testing.T, r curlResult) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	n, bad := 0, 0
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("answer %d: %v in\n%s", n, err, r.stdout)
		}
		if _, ok := m["id"]; !ok {
			t.Errorf("answer without an id: %v", m)
		}
		if e, ok := m["error"].(map[string]any); ok && e["code"] == "invalid_argument" {
			bad++
		}
		n++
	}
	if n < 2 || bad != 1 {
		t.Errorf("%d answers, %d invalid_argument; want several and 1:\n%s", n, bad, r.stdout)
	}
}

// data returns the buf curl flags sending body as the request.
func data(body string) []string { return []string{"-d", body} }

// wantJSON fails unless r succeeded with a JSON object on stdout, and
// returns that object.
func wantJSON(t *testing.T, r curlResult) map[string]any {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0; stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.stdout)
	}
	return m
}

// wantEmpty checks that r succeeded with an empty message.
func wantEmpty(t *testing.T, r curlResult) {
	if m := wantJSON(t, r); len(m) != 0 {
		t.Errorf("response = %v, want {}", m)
	}
}

// wantField returns a check that r succeeded with field equal to want.
func wantField(field, want string) func(*testing.T, curlResult) {
	return func(t *testing.T, r curlResult) {
		if got := wantJSON(t, r)[field]; got != want {
			t.Errorf("%s = %v, want %q; response:\n%s", field, got, want, r.stdout)
		}
	}
}

// wantPolicy returns a check that r is a SetGroupPolicyResponse whose
// policy starts with prefix.
func wantPolicy(prefix string) func(*testing.T, curlResult) {
	return func(t *testing.T, r curlResult) {
		if got, _ := wantJSON(t, r)["policy"].(string); !strings.HasPrefix(got, prefix) {
			t.Errorf("policy = %q, want %s...; response:\n%s", got, prefix, r.stdout)
		}
	}
}

// waitReadyz waits until n answers GET /readyz with 200: its plugins are
// loaded.
func waitReadyz(t *testing.T, n *nodeProc) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		res, err := http.Get(n.baseURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 after %v: %v", n.baseURL, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantValue returns a check that r is a GetResponse whose value (base64)
// is want.
func wantValue(want string) func(*testing.T, curlResult) { return wantField("value", want) }

// wantError returns a check that r failed with the Connect error code
// code, printed as JSON on stderr, whose message contains word.
func wantError(code, word string) func(*testing.T, curlResult) {
	return func(t *testing.T, r curlResult) {
		if r.code == 0 {
			t.Fatalf("exit code 0, want an error %s; stdout:\n%s", code, r.stdout)
		}
		var e struct{ Code, Message string }
		if err := json.Unmarshal([]byte(r.stderr), &e); err != nil {
			t.Fatalf("stderr is not a JSON error: %v\n%s", err, r.stderr)
		}
		if e.Code != code || !strings.Contains(e.Message, word) {
			t.Errorf("error = %s: %q, want code %s and a message containing %q", e.Code, e.Message, code, word)
		}
	}
}

// asInt reads a protojson int64, which is a JSON string of digits (or,
// leniently, a JSON number).
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		return i, err == nil
	case float64:
		return int64(v), v == float64(int64(v))
	}
	return 0, false
}

// wantDefaultStats checks that r lists group "default" with at least one
// get counted.
func wantDefaultStats(t *testing.T, r curlResult) {
	groups, _ := wantJSON(t, r)["groups"].([]any)
	for _, g := range groups {
		if g, _ := g.(map[string]any); g["group"] == "default" {
			if gets, ok := asInt(g["gets"]); !ok || gets < 1 {
				t.Errorf("default gets = %v, want a number >= 1", g["gets"])
			}
			return
		}
	}
	t.Errorf("no group default in stats:\n%s", r.stdout)
}

// wantRemoved checks that r is a PurgeResponse that removed at least the
// entry of "hello" loaded by the first Get.
func wantRemoved(t *testing.T, r curlResult) {
	if n, ok := asInt(wantJSON(t, r)["removed"]); !ok || n < 1 {
		t.Errorf("removed = %v, want a number >= 1; response:\n%s", n, r.stdout)
	}
}

// wantListed checks that r is a health List naming both API services as
// SERVING.
func wantListed(t *testing.T, r curlResult) {
	statuses, _ := wantJSON(t, r)["statuses"].(map[string]any)
	for _, svc := range []string{"distcache.v1.CacheService", "distcache.v1.AdminService"} {
		if st, _ := statuses[svc].(map[string]any); st["status"] != "SERVING" {
			t.Errorf("status of %s = %v, want SERVING; response:\n%s", svc, statuses[svc], r.stdout)
		}
	}
}

// publicServices and publicMethods are what reflection must list: every
// service and method meant for clients (PeerService is not).
var (
	publicServices = []string{
		"distcache.v1.AdminService", "distcache.v1.CacheService",
		"distcache.v1.ClusterService", "grpc.health.v1.Health",
	}
	publicMethods = []string{
		"distcache.v1.CacheService/Get", "distcache.v1.CacheService/Set",
		"distcache.v1.CacheService/Delete",
		"distcache.v1.CacheService/GetMany", "distcache.v1.CacheService/SetMany",
		"distcache.v1.CacheService/DeleteMany", "distcache.v1.CacheService/Pipeline",
		"distcache.v1.AdminService/GetStats", "distcache.v1.AdminService/Purge",
		"distcache.v1.AdminService/ListPlugins", "distcache.v1.AdminService/SetGroupPolicy",
		"distcache.v1.ClusterService/ListMembers", "distcache.v1.ClusterService/Owner",
		"grpc.health.v1.Health/Check", "grpc.health.v1.Health/List",
		"grpc.health.v1.Health/Watch",
	}
)

// wantListing returns a check that r printed exactly the names want,
// one per line, in any order.
func wantListing(want []string) func(*testing.T, curlResult) {
	return func(t *testing.T, r curlResult) {
		if r.code != 0 {
			t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
		}
		got := slices.Sorted(slices.Values(strings.Fields(r.stdout)))
		if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("listed:\n%s\nwant exactly %v", r.stdout, want)
		}
	}
}

// wantPlugins checks that r is a ListPluginsResponse: an object whose
// plugins, if any (a node without built plugins has none), are a list of
// named plugins.
func wantPlugins(t *testing.T, r curlResult) {
	m := wantJSON(t, r)
	ps, ok := m["plugins"].([]any)
	if _, present := m["plugins"]; present && !ok {
		t.Fatalf("plugins = %v, want a list", m["plugins"])
	}
	for _, p := range ps {
		if p, _ := p.(map[string]any); p["name"] == nil || p["kind"] == nil || p["origin"] == nil {
			t.Errorf("plugin %v lacks a name, kind or origin", p)
		}
	}
}

// memberJSON is a Member as protojson prints it.
type memberJSON struct {
	ID        string  `json:"id"`
	Address   string  `json:"address"`
	State     string  `json:"state"`
	RingShare float64 `json:"ringShare"`
}

// wantMembers checks that r lists the node alone: itself, alive, owning
// the whole ring of 160 replicas.
func wantMembers(t *testing.T, r curlResult) {
	wantJSON(t, r)
	var res struct {
		Members  []memberJSON `json:"members"`
		Self     string       `json:"self"`
		Replicas int          `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Members) != 1 || res.Self == "" || res.Replicas != 160 {
		t.Fatalf("ListMembers = %+v, want one member, self and 160 replicas", res)
	}
	wantSelf(t, res.Members[0], res.Self)
}

// wantOwner checks that r names the node alone as the key's owner.
func wantOwner(t *testing.T, r curlResult) {
	wantJSON(t, r)
	var res struct {
		Owner memberJSON `json:"owner"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	wantSelf(t, res.Owner, res.Owner.Address) // a lone node's ID is its address
}

// wantSelf checks that m is a lone node with ID id: alive, reachable at a
// host:port, owning (within rounding) the whole ring.
func wantSelf(t *testing.T, m memberJSON, id string) {
	t.Helper()
	if m.ID != id || !strings.Contains(m.Address, ":") || m.State != "MEMBER_STATE_ALIVE" || m.RingShare < 0.999 {
		t.Errorf("member = %+v, want %q alive at host:port with ring share 1", m, id)
	}
}

// bufCurlFirst runs buf curl on a server stream that does not end by
// itself, returns the first message it prints as stdout, then stops it.
func bufCurlFirst(t *testing.T, args ...string) curlResult {
	t.Helper()
	return firstMessage(t, bins.buf, append([]string{"curl"}, args...)...)
}

// firstMessage runs name with args, which print a stream of JSON
// messages, returns the first as stdout, then stops it.
func firstMessage(t *testing.T, name string, args ...string) curlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = t.TempDir(), childEnv(), time.Second
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var first json.RawMessage
	decErr := json.NewDecoder(out).Decode(&first)
	cancel()
	_ = cmd.Wait()
	if decErr != nil {
		t.Fatalf("no message from the stream: %v; stderr:\n%s", decErr, stderr)
	}
	return curlResult{stdout: string(first), stderr: stderr.String()}
}

// TestReadmeRecipes runs the buf curl recipes of the README's "Calling
// the API" section as written, each line on its own, against a live
// node: with the README's shell setup, its `go tool buf` replaced by the
// buf binary and N by the node's URL, and P set to each protocol in turn.
// The recipes must call every public RPC and show all three protocols.
func TestReadmeRecipes(t *testing.T) {
	bash := testtool.Path(t, "bash", "apt-get install -y bash")
	setup, recipes := readmeRecipes(t)
	wantCoverage(t, recipes)
	n := startNode(t, "--admin-token", shellVar(t, setup, "T"))
	// The SetGroupPolicy recipe switches to a built-in policy: wait until
	// every plugin is loaded.
	waitReadyz(t, n)
	for _, proto := range []string{"grpc", "grpcweb", "connect"} {
		t.Run(proto, func(t *testing.T) {
			script := strings.Join(append(setup, "N="+n.baseURL, "P="+proto), "\n") + "\n"
			for i, line := range recipes {
				t.Run(fmt.Sprintf("%02d-%s", i, recipeName(line)), func(t *testing.T) {
					check, stream := recipeCheck(line)
					if stream {
						check(t, firstMessage(t, bash, "-c", script+line))
					} else {
						check(t, runBash(t, bash, script+line))
					}
				})
			}
		})
	}
}

// recipeMethod matches the method a recipe calls.
var recipeMethod = regexp.MustCompile(`\$N/(\S+)`)

// recipeCall matches a recipe: a call of bufcurl, perhaps with P set for
// it alone.
var recipeCall = regexp.MustCompile(`^(P=\w+\s+)?bufcurl\s`)

// readmeRecipes returns the shell setup (the variables and the bufcurl
// function, which runs the buf binary) and the recipe lines of the
// README's "Calling the API" section, in order.
func readmeRecipes(t *testing.T) (setup, recipes []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Calling the API\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !ok {
		t.Fatal(`README.md has no "## Calling the API" section`)
	}
	var inSh, fn bool
	for line := range strings.Lines(section) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = !inSh && line == "```sh"
		case !inSh:
		case recipeCall.MatchString(line):
			recipes = append(recipes, line)
		case strings.HasPrefix(line, "bufcurl() {"):
			if !strings.Contains(line, "go tool buf curl ") {
				t.Fatalf("bufcurl does not run go tool buf curl: %s", line)
			}
			setup = append(setup, strings.Replace(line, "go tool buf", "exec "+shellQuote(bins.buf), 1))
			fn = true
		case regexp.MustCompile(`^[A-Z]+=\S`).MatchString(line):
			setup = append(setup, line)
		}
	}
	if !fn || len(recipes) == 0 {
		t.Fatalf("the section defines bufcurl: %v; %d recipes", fn, len(recipes))
	}
	return setup, recipes
}

// wantCoverage fails unless recipes call every public method, list the
// services and methods, and show each protocol.
func wantCoverage(t *testing.T, recipes []string) {
	t.Helper()
	all := strings.Join(recipes, "\n")
	var methods []string
	for _, m := range recipeMethod.FindAllStringSubmatch(all, -1) {
		methods = append(methods, m[1])
	}
	for _, m := range publicMethods {
		if !slices.Contains(methods, m) {
			t.Errorf("no README recipe calls %s", m)
		}
	}
	for _, want := range []string{"P=grpc ", "P=grpcweb ", "P=connect ", "--list-services", "--list-methods"} {
		if !strings.Contains(all, want) {
			t.Errorf("no README recipe has %q", want)
		}
	}
}

// shellVar returns the value the setup gives name.
func shellVar(t *testing.T, setup []string, name string) string {
	t.Helper()
	for _, line := range setup {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return strings.Fields(v)[0]
		}
	}
	t.Fatalf("the README's setup does not set %s", name)
	return ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// recipeName names a recipe's subtest: its method or listing, and its
// protocol if it sets one.
func recipeName(line string) string {
	name := "list"
	if m := recipeMethod.FindStringSubmatch(line); m != nil {
		name = m[1]
	} else if strings.Contains(line, "--list-") {
		name = line[strings.Index(line, "--list-")+2:]
		name, _, _ = strings.Cut(name, " ")
	}
	if p, ok := strings.CutPrefix(strings.Fields(line)[0], "P="); ok {
		name += "-" + p
	}
	return name
}

// recipeCheck returns what a recipe must print, and whether it is a
// stream to stop after the first message. SetGroupPolicy switches to a
// built-in policy.
func recipeCheck(line string) (func(*testing.T, curlResult), bool) {
	switch {
	case strings.Contains(line, "--list-services"):
		return wantListing(publicServices), false
	case strings.Contains(line, "--list-methods"):
		return wantListing(publicMethods), false
	case strings.Contains(line, "/grpc.health.v1.Health/Watch"):
		return wantField("status", "SERVING"), true
	case strings.Contains(line, "/distcache.v1.AdminService/SetGroupPolicy"):
		return wantPolicy("wtinylfu (wasm "), false
	case strings.Contains(line, "/distcache.v1.CacheService/Pipeline"):
		return wantAnswers, false
	}
	return func(t *testing.T, r curlResult) { wantJSON(t, r) }, false
}

// runBash runs script with bash -c and returns its output and exit code.
func runBash(t *testing.T, bash, script string) curlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", script)
	cmd.Dir, cmd.Env, cmd.WaitDelay = t.TempDir(), childEnv(), time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("no answer within %v:\n%s", readyTimeout, script)
	}
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("bash: %v", err)
	}
	return curlResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
