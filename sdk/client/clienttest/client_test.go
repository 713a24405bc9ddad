package clienttest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

var protocols = []client.Protocol{client.ProtocolGRPC, client.ProtocolConnect, client.ProtocolGRPCWeb}

func newClient(t testing.TB, endpoints []string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRoundTrip(t *testing.T) {
	n := startNode(t, node.Config{})
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			ctx := t.Context()
			c := newClient(t, []string{n.url}, client.WithProtocol(p))
			if v, err := c.Get(ctx, "default", "hello"); err != nil || string(v.Bytes) != "world" || v.TTL != 0 {
				t.Fatalf("Get(hello) = %+v, %v; want world, no ttl", v, err)
			}
			key := "rt-" + p.String()
			if err := c.Set(ctx, "default", key, []byte("v1")); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if v, err := c.Get(ctx, "default", key); err != nil || string(v.Bytes) != "v1" || v.Source != "local" {
				t.Fatalf("Get after Set = %+v, %v; want v1 from local", v, err)
			}
			if err := c.SetString(ctx, "default", key, "v2"); err != nil {
				t.Fatalf("SetString: %v", err)
			}
			if s, err := c.GetString(ctx, "default", key); err != nil || s != "v2" {
				t.Fatalf("GetString = %q, %v; want v2", s, err)
			}
			if err := c.Delete(ctx, "default", key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := c.Get(ctx, "default", key); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
			if err := c.Delete(ctx, "default", key); err != nil {
				t.Fatalf("Delete of a missing key: %v", err)
			}
		})
	}
}

func TestSetTTL(t *testing.T) {
	n := startNode(t, node.Config{})
	c := newClient(t, []string{n.url})
	tests := []struct {
		name     string
		opts     []client.SetOption
		min, max time.Duration
	}{
		{"group default (never)", nil, 0, 0},
		{"one hour", []client.SetOption{client.WithTTL(time.Hour)}, 59 * time.Minute, time.Hour},
		{"zero means never", []client.SetOption{client.WithTTL(0)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "ttl-" + tt.name
			if err := c.SetString(t.Context(), "default", key, "v", tt.opts...); err != nil {
				t.Fatal(err)
			}
			v, err := c.Get(t.Context(), "default", key)
			if err != nil || v.TTL < tt.min || v.TTL > tt.max {
				t.Fatalf("Get = %+v, %v; want ttl in [%v, %v]", v, err, tt.min, tt.max)
			}
		})
	}
}

func TestErrorsKeepCodesAndAreNotRetried(t *testing.T) {
	n := startNode(t, node.Config{})
	hc, counter := countingClient(t)
	c := newClient(t, []string{n.url, n.url}, client.WithHTTPClient(hc))
	tests := []struct {
		name     string
		call     func(context.Context) error
		code     connect.Code
		notFound bool
	}{
		{"missing key", func(ctx context.Context) error { _, err := c.Get(ctx, "default", "no-such-key"); return err }, connect.CodeNotFound, true},
		{"unknown group", func(ctx context.Context) error { _, err := c.Get(ctx, "nogroup", "k"); return err }, connect.CodeNotFound, true},
		{"unknown group on delete", func(ctx context.Context) error { return c.Delete(ctx, "nogroup", "k") }, connect.CodeNotFound, true},
		{"empty key", func(ctx context.Context) error { _, err := c.Get(ctx, "default", ""); return err }, connect.CodeInvalidArgument, false},
		{"key too long", func(ctx context.Context) error { return c.SetString(ctx, "default", strings.Repeat("k", 251), "v") }, connect.CodeInvalidArgument, false},
		{"bad group name", func(ctx context.Context) error { return c.Delete(ctx, "Bad Group", "k") }, connect.CodeInvalidArgument, false},
		{"negative ttl", func(ctx context.Context) error {
			return c.SetString(ctx, "default", "k", "v", client.WithTTL(-time.Second))
		}, connect.CodeInvalidArgument, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := counter.n.Load()
			err := tt.call(t.Context())
			if got := connect.CodeOf(err); got != tt.code {
				t.Fatalf("error %v has code %v, want %v", err, got, tt.code)
			}
			if errors.Is(err, client.ErrNotFound) != tt.notFound {
				t.Fatalf("errors.Is(%v, ErrNotFound) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if client.IsRetryable(err) {
				t.Fatalf("IsRetryable(%v) = true", err)
			}
			if attempts := counter.n.Load() - before; attempts != 1 {
				t.Fatalf("%d attempts, want 1 (not retried)", attempts)
			}
		})
	}
}

func TestStats(t *testing.T) {
	n := startNode(t, node.Config{AdminToken: "s3cret"})
	hc, counter := countingClient(t)
	c := newClient(t, []string{n.url}, client.WithHTTPClient(hc), client.WithAdminToken("s3cret"))
	if _, err := c.Get(t.Context(), "default", "hello"); err != nil {
		t.Fatal(err)
	}
	if auth := counter.auth.Load(); auth != "" {
		t.Fatalf("a cache call carried Authorization %q", auth)
	}
	for _, group := range []string{"", "default"} {
		stats, err := c.Stats(t.Context(), group)
		if err != nil || len(stats) != 1 || stats[0].GetGroup() != "default" || stats[0].GetGets() != 1 {
			t.Fatalf("Stats(%q) = %v, %v; want default with 1 get", group, stats, err)
		}
		if auth := counter.auth.Load(); auth != "Bearer s3cret" {
			t.Fatalf("Stats carried Authorization %q", auth)
		}
	}
	if _, err := c.Stats(t.Context(), "nogroup"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Stats(nogroup) = %v, want ErrNotFound", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name      string
		endpoints []string
		opts      []client.Option
		want      string
	}{
		{"no endpoints", nil, nil, "no endpoints"},
		{"no scheme", []string{"127.0.0.1:8080"}, nil, `"127.0.0.1:8080"`},
		{"wrong scheme", []string{"ftp://cache:21"}, nil, `endpoint "ftp://cache:21": scheme must be http or https`},
		{"no host", []string{"http://"}, nil, `endpoint "http://": no host`},
		{"query", []string{"http://ok:1", "http://cache:1?x=1"}, nil, `endpoint "http://cache:1?x=1": query`},
		{"unparsable", []string{"http://[::1"}, nil, `endpoint "http://[::1"`},
		{"unknown protocol", []string{"http://ok:1"}, []client.Option{client.WithProtocol(7)}, "unknown protocol Protocol(7)"},
		{"negative retry", []string{"http://ok:1"}, []client.Option{client.WithRetry(client.RetryPolicy{MaxAttempts: -1})}, "WithRetry"},
		{"max below base", []string{"http://ok:1"}, []client.Option{client.WithRetry(client.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond})}, "MaxDelay 1ms is less than BaseDelay 1s"},
		{"negative timeout", []string{"http://ok:1"}, []client.Option{client.WithAttemptTimeout(-1)}, "WithAttemptTimeout"},
		{"nil http client", []string{"http://ok:1"}, []client.Option{client.WithHTTPClient(nil)}, "nil *http.Client"},
		{"negative refresh", []string{"http://ok:1"}, []client.Option{client.WithOwnerRouting(-time.Second)}, "WithOwnerRouting: negative refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.endpoints, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", c, err, tt.want)
			}
		})
	}
	if _, err := client.New([]string{"https://cache.example:8443/"}); err != nil {
		t.Fatalf("New(https with a trailing slash) = %v", err)
	}
}
