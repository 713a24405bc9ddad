package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSIGTERMGraceful checks that a serving node stops on SIGTERM and on
// SIGINT with exit code 0, logging that it stopped serving without error.
func TestSIGTERMGraceful(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			n := startNode(t)
			if status, body := connectGet(t, n.baseURL, "default", "hello"); status != http.StatusOK {
				t.Fatalf("Get before %v: HTTP %d %v", sig, status, body)
			}
			code, stderr := n.stop(sig)
			if code != 0 {
				t.Errorf("exit code after %v = %d, want 0; stderr:\n%s", sig, code, stderr)
			}
			line := lineWith(stderr, "stopped serving")
			if line == "" || !strings.Contains(line, "err=<nil>") {
				t.Errorf("stderr has no clean %q line after %v:\n%s", "stopped serving", sig, stderr)
			}
		})
	}
}

// TestBadConfigStopsAtStart checks that a node given a bad groups file
// exits 1 before serving, with a message naming the file, the field and
// the problem.
func TestBadConfigStopsAtStart(t *testing.T) {
	tests := []struct {
		name, yaml, field, word string
	}{
		{"unknown field", "groups:\n  - name: a\n    capacity: 1MiB\n    colour: red\n", "groups[0].colour", "unknown"},
		{"capacity not a size", "groups:\n  - name: a\n    capacity: lots\n", "groups[0].capacity", "lots"},
		{"missing table", "groups:\n  - name: a\n    capacity: 1MiB\n    loader:\n      kind: sqlite\n      table: nope\n",
			"groups[0].loader", "does not exist"},
		{"duplicate name", "groups:\n  - name: a\n    capacity: 1MiB\n  - name: a\n    capacity: 1MiB\n",
			"groups[1].name", "duplicate"},
		{"write-through without loader", "groups:\n  - name: a\n    capacity: 1MiB\n    write_through: true\n",
			"groups[0].write_through", "loader"},
		{"empty file", "", "groups", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "groups.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := runToExit(t, nil, "--config", path)
			if code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			for _, want := range []string{"distcache: " + path + ":", tt.field + ": ", tt.word} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestEnvConfiguresNode checks that DISTCACHE_* variables set flags not
// given on the command line, and that a flag given wins over its variable.
func TestEnvConfiguresNode(t *testing.T) {
	const (
		purge = "/distcache.v1.AdminService/Purge"
		set   = "/distcache.v1.CacheService/Set"
		group = `{"group":"default"}`
		big   = `{"group":"default","key":"big","value":"aGVsbG8="}` // 5 bytes
	)
	tests := []struct {
		name        string
		env, args   []string
		path, token string
		body        string
		wantStatus  int
		wantCode    string // Connect error code; empty for success
	}{
		{"env token accepted", []string{"DISTCACHE_ADMIN_TOKEN=envtok"}, nil, purge, "envtok", group, 200, ""},
		{"env token, wrong bearer", []string{"DISTCACHE_ADMIN_TOKEN=envtok"}, nil, purge, "nope", group, 401, "unauthenticated"},
		{"flag token wins", []string{"DISTCACHE_ADMIN_TOKEN=envtok"}, []string{"--admin-token", "flagtok"},
			purge, "flagtok", group, 200, ""},
		{"env token overridden", []string{"DISTCACHE_ADMIN_TOKEN=envtok"}, []string{"--admin-token", "flagtok"},
			purge, "envtok", group, 401, "unauthenticated"},
		{"no token refuses admin", nil, nil, purge, "envtok", group, 403, "permission_denied"},
		{"env max value bytes", []string{"DISTCACHE_MAX_VALUE_BYTES=4"}, nil, set, "", big, 400, "invalid_argument"},
		{"flag max value bytes wins", []string{"DISTCACHE_MAX_VALUE_BYTES=4"}, []string{"--max-value-bytes", "16"},
			set, "", big, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := startNodeEnv(t, tt.env, tt.args...)
			status, body := postJSON(t, n.baseURL+tt.path, tt.token, tt.body)
			if status != tt.wantStatus || body["code"] != nilIfEmpty(tt.wantCode) {
				t.Errorf("POST %s = HTTP %d %v, want HTTP %d code %q", tt.path, status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

// TestBadFlags checks that bad flags and variables stop the node with a
// non-zero exit and a message naming the flag.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		name       string
		env, args  []string
		wantStderr string
	}{
		{"max value bytes zero", nil, []string{"--max-value-bytes", "0"}, "--max-value-bytes 0"},
		{"max value bytes too big", nil, []string{"--max-value-bytes", "67108865"}, "--max-value-bytes 67108865"},
		{"max value bytes zero by env", []string{"DISTCACHE_MAX_VALUE_BYTES=0"}, nil, "--max-value-bytes 0"},
		{"max value bytes not a number by env", []string{"DISTCACHE_MAX_VALUE_BYTES=lots"}, nil, "DISTCACHE_MAX_VALUE_BYTES"},
		{"unknown flag", nil, []string{"--bogus"}, "-bogus"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "--log-format"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "--log-level"},
		{"stray argument", nil, []string{"extra"}, `"extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := runToExit(t, tt.env, tt.args...)
			if code == 0 {
				t.Errorf("exit code = 0, want non-zero")
			}
			if line := lineWith(stderr, "distcache: "); !strings.Contains(line, tt.wantStderr) {
				t.Errorf("error line %q does not name %q; stderr:\n%s", line, tt.wantStderr, stderr)
			}
		})
	}
}

// TestFirstGetWorksOnFreshDB checks that a node on a new database answers
// a Connect GET for the demo row: first from the loader, then from its
// store.
func TestFirstGetWorksOnFreshDB(t *testing.T) {
	n := startNode(t)
	for i, wantSource := range []string{"SOURCE_LOADER", "SOURCE_LOCAL"} {
		t.Run(wantSource, func(t *testing.T) {
			status, body := connectGet(t, n.baseURL, "default", "hello")
			if status != http.StatusOK || body["value"] != "d29ybGQ=" || body["source"] != wantSource {
				t.Errorf("Get #%d = HTTP %d %v, want 200 value d29ybGQ= source %s", i+1, status, body, wantSource)
			}
		})
	}
}

// runToExit runs the server on a free port and a fresh database with env
// and args, and returns its exit code and stderr. A node that starts
// serving is a failure; it is stopped at once.
func runToExit(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	dir := t.TempDir()
	args = append([]string{"--addr", freeAddr(t), "--db", filepath.Join(dir, "x.db")}, args...)
	cmd := exec.CommandContext(ctx, bins.distcache, args...)
	cmd.Dir, cmd.Env = dir, childEnv(env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("distcache %s did not exit within %v; stderr:\n%s", strings.Join(args, " "), readyTimeout, stderr.String())
	}
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("distcache: %v", err)
	}
	if strings.Contains(stderr.String(), "msg=serving") {
		t.Errorf("node served before exiting; stderr:\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// connectGet calls CacheService/Get as a Connect unary GET with a JSON
// message and returns the HTTP status and the decoded JSON body.
func connectGet(t *testing.T, baseURL, group, key string) (int, map[string]any) {
	t.Helper()
	msg, _ := json.Marshal(map[string]string{"group": group, "key": key})
	q := url.Values{"encoding": {"json"}, "message": {string(msg)}}
	return do(t, http.MethodGet, baseURL+"/distcache.v1.CacheService/Get?"+q.Encode(), "", "")
}

// postJSON sends body as a Connect unary JSON request to url, with a
// bearer token unless token is empty, and returns the HTTP status and
// the decoded JSON body.
func postJSON(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	return do(t, http.MethodPost, url, token, body)
}

// do sends one HTTP request and decodes the JSON object it answers.
func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		t.Fatalf("%s %s: HTTP %d, body not JSON: %v\n%s", method, url, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, m
}

// lineWith returns the first line of s containing sub, or "".
func lineWith(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// nilIfEmpty returns nil for "" and s otherwise, to compare with a
// decoded JSON field that may be absent.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
