// Package client is the Go client of distcache for services: Get, Set and
// Delete on a cluster of nodes, with round-robin load spreading, optional
// owner-aware routing, and retries that skip an unreachable node.
//
// # Connecting
//
// [New] takes the base URLs of one or more nodes. Any node answers for
// any key (a node that does not own a key forwards the call), so the
// client needs no view of the ring: it starts each call at the next
// endpoint in turn and, on a retryable error, waits a jittered back-off
// and tries the following one.
//
//	c, err := client.New([]string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	v, err := c.GetString(ctx, "default", "hello")
//
// [WithOwnerRouting] saves the forwarding hop: the client learns the
// membership from ClusterService, places keys on the ring exactly as the
// nodes do, and sends each Get, Set and Delete to the key's owner first,
// falling back to the endpoints round robin when the owner is down.
//
// By default the client speaks gRPC over HTTP/2 (h2c for http://, TLS for
// https://); [WithProtocol] switches to the Connect or gRPC-Web protocol.
//
// # Errors
//
// A missing key or group is [ErrNotFound]. Every error the server returns,
// that one included, keeps its *connect.Error, so
// [connectrpc.com/connect.CodeOf] tells InvalidArgument from Unavailable. [IsRetryable] says which errors
// the client retries: Get, Set and Delete are idempotent, so all three
// are retried.
package client
