package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/distcache/distcache/sdk/client"
)

func ExampleNew() {
	url, stop := exampleNode() // a node serving the demo group "default"
	defer stop()

	c, err := client.New([]string{url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.GetString(context.Background(), "default", "hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("hello =", s)
	// Output: hello = world
}

func ExampleClient_Get() {
	url, stop := exampleNode()
	defer stop()
	c, err := client.New([]string{url}, client.WithProtocol(client.ProtocolConnect))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	for range 2 {
		v, err := c.Get(ctx, "default", "hello")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s from %s\n", v.Bytes, v.Source)
	}
	if _, err := c.Get(ctx, "default", "no-such-key"); errors.Is(err, client.ErrNotFound) {
		fmt.Println("no-such-key: not found")
	}
	// Output:
	// world from loader
	// world from local
	// no-such-key: not found
}

func ExampleClient_Set() {
	url, stop := exampleNode()
	defer stop()
	c, err := client.New([]string{url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.SetString(ctx, "default", "session:42", "alice", client.WithTTL(time.Hour)); err != nil {
		log.Fatal(err)
	}
	v, err := c.Get(ctx, "default", "session:42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, expires within the hour: %v\n", v.Bytes, v.TTL > 0 && v.TTL <= time.Hour)
	// Output: alice, expires within the hour: true
}

func ExampleWithRetry() {
	url, stop := exampleNode()
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	c, err := client.New([]string{dead, url}, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 3,
		BaseDelay:   10 * time.Millisecond,
		MaxDelay:    100 * time.Millisecond,
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for range 4 { // the first call starts at the dead node, retries and ejects it
		s, err := c.GetString(context.Background(), "default", "hello")
		fmt.Println(s, err)
	}
	// Output:
	// world <nil>
	// world <nil>
	// world <nil>
	// world <nil>
}

func ExampleWithAttemptTimeout() {
	url, stop := exampleNode()
	defer stop()
	// A node that hangs: the kernel accepts connections, nobody answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer hung.Close()

	c, err := client.New([]string{"http://" + hung.Addr().String(), url}, client.WithAttemptTimeout(200*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // stops probing the hung node
	// The first call waits 200ms at the hung node, goes on to the other
	// and ejects the hung one; the others do not wait at all.
	for range 3 {
		s, err := c.GetString(context.Background(), "default", "hello")
		fmt.Println(s, err)
	}
	// Output:
	// world <nil>
	// world <nil>
	// world <nil>
}

func ExampleWithOwnerRouting() {
	urls, stop := exampleCluster(3)
	defer stop()

	// One endpoint is enough: the client learns the other members from it
	// and sends each key to its owner, which answers from its own store.
	c, err := client.New(urls[:1], client.WithOwnerRouting(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, key := range []string{"user:1", "user:2", "user:3"} {
		if err := c.SetString(ctx, "default", key, "Ada"); err != nil {
			log.Fatal(err)
		}
		v, err := c.Get(ctx, "default", key)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s = %s from %s\n", key, v.Bytes, v.Source)
	}
	// Output:
	// user:1 = Ada from local
	// user:2 = Ada from local
	// user:3 = Ada from local
}
