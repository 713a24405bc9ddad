package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
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
		get   = "distcache.v1.CacheService/Get"
		purge = "distcache.v1.AdminService/Purge"
	)
	keyBody := `{"group":"default","key":"` + key + `"}`
	return []curlCase{
		{"Get", get, data(`{"group":"default","key":"hello"}`), false, wantValue("d29ybGQ=")},
		{"Set", "distcache.v1.CacheService/Set",
			data(`{"group":"default","key":"` + key + `","value":"dmFsdWU="}`), false, wantEmpty},
		{"GetAfterSet", get, data(keyBody), false, wantValue("dmFsdWU=")},
		{"Delete", "distcache.v1.CacheService/Delete", data(keyBody), false, wantEmpty},
		{"GetAfterDelete", get, data(keyBody), false, wantError("not_found", key)},
		{"GetStats", "distcache.v1.AdminService/GetStats", data(`{}`), false, wantDefaultStats},
		{"Purge", purge, append(data(`{"group":"default"}`), "-H", "Authorization: Bearer tok"), false, wantRemoved},
		{"PurgeNoToken", purge, data(`{"group":"default"}`), false, wantError("unauthenticated", "")},
		{"PurgeWrongToken", purge, append(data(`{"group":"default"}`), "-H", "Authorization: Bearer nope"),
			false, wantError("unauthenticated", "")},
		{"HealthCheck", "grpc.health.v1.Health/Check", data(`{}`), false, wantField("status", "SERVING")},
		{"HealthList", "grpc.health.v1.Health/List", data(`{}`), false, wantListed},
		{"HealthWatch", "grpc.health.v1.Health/Watch", data(`{"service":"distcache.v1.CacheService"}`),
			true, wantField("status", "SERVING")},
		{"ListMethods", "", []string{"--list-methods"}, false, wantMethods},
		{"InvalidKey", get, data(`{"group":"default","key":""}`), false, wantError("invalid_argument", "key")},
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

// wantMethods checks that r lists every public method.
func wantMethods(t *testing.T, r curlResult) {
	if r.code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	got := strings.Fields(r.stdout)
	for _, m := range []string{
		"distcache.v1.CacheService/Get", "distcache.v1.CacheService/Set",
		"distcache.v1.CacheService/Delete", "distcache.v1.AdminService/GetStats",
		"distcache.v1.AdminService/Purge", "grpc.health.v1.Health/Check",
		"grpc.health.v1.Health/List", "grpc.health.v1.Health/Watch",
	} {
		if !slices.Contains(got, m) {
			t.Errorf("--list-methods lacks %s; got:\n%s", m, r.stdout)
		}
	}
}

// bufCurlFirst runs buf curl on a server stream that does not end by
// itself, returns the first message it prints as stdout, then stops it.
func bufCurlFirst(t *testing.T, args ...string) curlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.buf, append([]string{"curl"}, args...)...)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatalf("buf curl: %v", err)
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
