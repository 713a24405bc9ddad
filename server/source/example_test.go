package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/distcache/distcache/server/source"
)

func Example() {
	dir, err := os.MkdirTemp("", "distcache-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := source.Open(ctx, filepath.Join(dir, "distcache.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	kv, err := db.Table(ctx, source.DefaultTableConfig(), true)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Close()

	hello, _ := kv.Load(ctx, "hello")
	fmt.Printf("hello = %s\n", hello.Value)
	_ = kv.Write(ctx, "hello", []byte("there"), time.Time{})
	hello, _ = kv.Load(ctx, "hello")
	fmt.Printf("hello = %s\n", hello.Value)
	// Output:
	// hello = world
	// hello = there
}
