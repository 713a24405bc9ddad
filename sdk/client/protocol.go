package client

import (
	"fmt"

	"connectrpc.com/connect"
)

// Protocol is the wire protocol a [Client] speaks. Every node serves all
// three on one port.
type Protocol int

const (
	// ProtocolGRPC is gRPC over HTTP/2: h2c for http:// endpoints and
	// HTTP/2 over TLS for https://. It is the default.
	ProtocolGRPC Protocol = iota
	// ProtocolConnect is the Connect protocol with binary protobuf.
	ProtocolConnect
	// ProtocolGRPCWeb is gRPC-Web with binary protobuf.
	ProtocolGRPCWeb
)

// String returns the protocol's name: "grpc", "connect" or "grpcweb".
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolConnect:
		return "connect"
	case ProtocolGRPCWeb:
		return "grpcweb"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// clientOptions returns the connect options that select p.
func (p Protocol) clientOptions() ([]connect.ClientOption, error) {
	switch p {
	case ProtocolGRPC:
		return []connect.ClientOption{connect.WithGRPC()}, nil
	case ProtocolConnect:
		return nil, nil
	case ProtocolGRPCWeb:
		return []connect.ClientOption{connect.WithGRPCWeb()}, nil
	}
	return nil, fmt.Errorf("unknown protocol %v", p)
}
