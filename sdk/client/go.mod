module github.com/distcache/distcache/sdk/client

go 1.25

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2
	connectrpc.com/connect v1.18.1
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/distcache/distcache/gen v0.0.0
	google.golang.org/protobuf v1.36.12
)

// The generated code is built from the same commit as the client.
replace github.com/distcache/distcache/gen => ../../gen
