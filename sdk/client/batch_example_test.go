package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
)

func ExampleClient_GetMany() {
	url, stop := exampleNode()
	defer stop()
	c, err := client.New([]string{url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	errs, err := c.SetMany(ctx, "default", []client.Entry{
		{Key: "user:1", Value: []byte("Ada")},
		{Key: "user:2", Value: []byte("Grace")},
	})
	if err != nil || errors.Join(errs...) != nil {
		log.Fatal(err, errs)
	}
	rs, err := c.GetMany(ctx, "default", []string{"user:1", "user:2", "user:3", ""})
	if err != nil {
		log.Fatal(err) // the batch failed as a whole
	}
	for _, r := range rs {
		switch {
		case errors.Is(r.Err, client.ErrNotFound):
			fmt.Println("not found")
		case r.Err != nil:
			fmt.Println(connect.CodeOf(r.Err))
		default:
			fmt.Printf("%s\n", r.Value.Bytes)
		}
	}
	// Output:
	// Ada
	// Grace
	// not found
	// invalid_argument
}

func ExampleClient_Pipeline() {
	url, stop := exampleNode()
	defer stop()
	c, err := client.New([]string{url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	p := c.Pipeline(ctx)
	defer p.Close()
	set := p.Set("default", "greeting", []byte("hi"))
	if _, err := set.Wait(ctx); err != nil { // the Get below must see it
		log.Fatal(err)
	}
	calls := []*client.Call{p.Get("default", "greeting"), p.Get("default", "hello")}
	for _, call := range calls {
		v, err := call.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", v.Bytes)
	}
	// Output:
	// hi
	// world
}
