package node

import (
	"context"
	"strings"
	"testing"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/config"
)

// TestConfigInCode checks the configuration a Go program gives a node
// (File and Loaders, no embedded database): the mistakes are errors
// naming them, and nothing is left open.
func TestConfigInCode(t *testing.T) {
	get := cache.LoaderFunc(func(context.Context, string) (cache.Loaded, error) { return cache.Loaded{Value: []byte("v")}, nil })
	group := func(name string, l *config.Loader) config.Group {
		return config.Group{Name: name, Capacity: config.MiB, Loader: l}
	}
	for _, tc := range []struct {
		name    string
		file    *config.File
		loaders map[string]cache.Loader
		want    string
	}{
		{"loader of a missing group", &config.File{Groups: []config.Group{group("a", nil)}}, map[string]cache.Loader{"b": get}, `group "b", which the configuration does not have`},
		{"two loaders", &config.File{Groups: []config.Group{group("a", &config.Loader{Kind: "sqlite"})}}, map[string]cache.Loader{"a": get}, "has a loader of kind sqlite already"},
		{"nil loader", &config.File{Groups: []config.Group{group("a", nil)}}, map[string]cache.Loader{"a": nil}, "is nil"},
		{"sqlite without a database", &config.File{Groups: []config.Group{group("a", &config.Loader{Kind: "sqlite"})}}, nil, "needs the embedded database"},
		{"invalid group", &config.File{Groups: []config.Group{{Name: "a"}}}, nil, "groups[0].capacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(context.Background(), Config{File: tc.file, Loaders: tc.loaders})
			if err == nil {
				n.Close()
				t.Fatalf("New = no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}

	// A valid one: the Go loader serves its group, defaults filled in.
	f := &config.File{Groups: []config.Group{group("a", nil)}}
	n, err := New(context.Background(), Config{File: f, Loaders: map[string]cache.Loader{"a": get}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g, _ := n.Group("a")
	if v, err := g.Get(context.Background(), "k"); err != nil || string(v.Bytes) != "v" {
		t.Errorf("Get = %q, %v", v.Bytes, err)
	}
	if f.Groups[0].Policy != "lru" || f.Groups[0].LoadTimeout == 0 {
		t.Errorf("defaults not filled: %+v", f.Groups[0])
	}
}
