package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func rawLoader(t *testing.T, httpAllow []string) *GroupLoader {
	t.Helper()
	rt := newTestRuntime(t, Config{})
	mod, err := rt.Compile(context.Background(), "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := mod.NewLoader("g", LoaderConfig{HTTPAllow: httpAllow})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoaderHTTPGetIsAllowListed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	defer srv.Close()
	l := rawLoader(t, []string{srv.URL + "/allowed/"})
	res, err := l.Load(context.Background(), "http:"+srv.URL+"/allowed/x")
	if err != nil || string(res.Value) != "200 hello from /allowed/x" {
		t.Fatalf("allowed GET = %q, %v", res.Value, err)
	}
	for url, want := range map[string]string{
		srv.URL + "/other":             "is not under http_allow's",
		"http://127.0.0.2:1/allowed/x": "is not an origin in http_allow",
		"file:///etc/passwd":           "is not http or https",
	} {
		if _, err := l.Load(context.Background(), "http:"+url); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("GET %s = %v, want refused: %q", url, err, want)
		}
	}
	none := rawLoader(t, nil)
	if _, err := none.Load(context.Background(), "http:"+srv.URL+"/allowed/x"); err == nil {
		t.Error("a loader with no http_allow fetched a URL")
	}
}

func TestLoaderSandbox(t *testing.T) {
	l := rawLoader(t, nil)
	for key, want := range map[string]string{
		"fs":  "fs: open /etc/hostname:", // no preopened directories: the open fails
		"env": `env: "" 0`,               // no environment at all
	} {
		res, err := l.Load(context.Background(), key)
		if err != nil || !strings.HasPrefix(string(res.Value), want) {
			t.Errorf("%s = %q, %v; want it to start with %q", key, res.Value, err, want)
		}
	}
}
