package cli

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzCommand checks that finding a command in the node binary's
// arguments never panics, and that what it finds is the same arguments
// with the command's name moved to the front.
func FuzzCommand(f *testing.F) {
	f.Add("get\x00k")
	f.Add("--addr\x00h:1\x00get\x00k")
	f.Add("-o=json\x00stats")
	f.Add("--addr\x00:8080\x00--db\x00get")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		got, ok := Command(args)
		if !ok {
			if got != nil {
				t.Fatalf("Command(%q) = %q without a command", args, got)
			}
			return
		}
		if !IsCommand(got[0]) || len(got) != len(args) {
			t.Fatalf("Command(%q) = %q", args, got)
		}
		a, g := slices.Clone(args), slices.Clone(got)
		slices.Sort(a)
		slices.Sort(g)
		if !slices.Equal(a, g) {
			t.Fatalf("Command(%q) = %q: not the same arguments", args, got)
		}
	})
}

// FuzzNodeURLs checks that --addr either fails with an error naming it
// or gives http(s) URLs with a host.
func FuzzNodeURLs(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", ":8080", "http://a:1,https://b:2/", "nohost", "ftp://x", "[::1]:80", " , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		urls, err := nodeURLs(addr)
		if err != nil {
			if !strings.Contains(err.Error(), "--addr") {
				t.Fatalf("nodeURLs(%q) error %q does not name --addr", addr, err)
			}
			return
		}
		if len(urls) == 0 {
			t.Fatalf("nodeURLs(%q) = no URLs and no error", addr)
		}
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				t.Fatalf("nodeURLs(%q) gave %q", addr, u)
			}
		}
	})
}

func TestNodeURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{":8080", []string{"http://127.0.0.1:8080"}},
		{"0.0.0.0:1", []string{"http://127.0.0.1:1"}},
		{"cache-1:8080, https://cache-2:8443/", []string{"http://cache-1:8080", "https://cache-2:8443"}},
		{"[::1]:80", []string{"http://[::1]:80"}},
	} {
		got, err := nodeURLs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("nodeURLs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "nohost", "ftp://x", "http://", ","} {
		if _, err := nodeURLs(bad); err == nil {
			t.Errorf("nodeURLs(%q) = no error", bad)
		}
	}
}
