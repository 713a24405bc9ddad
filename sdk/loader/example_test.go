package loader_test

import (
	"fmt"
	"strings"

	"github.com/distcache/distcache/sdk/loader"
)

// A loader that serves upper-cased keys, and says not-found for empty
// ones. A plugin registers it from an init func of package main.
func ExampleLoaderFunc() {
	upper := loader.LoaderFunc(func(req loader.Request) (loader.Response, error) {
		if req.Key == "" {
			return loader.Response{}, loader.ErrNotFound
		}
		return loader.Response{Value: []byte(strings.ToUpper(req.Key))}, nil
	})
	loader.Register(upper)
	defer loader.Register(nil)

	res, err := upper.Load(loader.Request{Group: "names", Key: "ada"})
	fmt.Println(string(res.Value), err)
	_, err = upper.Load(loader.Request{Group: "names"})
	fmt.Println(err)
	// Output:
	// ADA <nil>
	// not found
}
