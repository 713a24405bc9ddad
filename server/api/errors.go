package api

import (
	"context"
	"errors"
	"fmt"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/distcache/distcache/server/cache"
)

// errorFromCache turns an error of the cache into a Connect error. Only
// what another attempt may cure is unavailable (the code clients retry):
// a node or owner that did not answer, or too few replicas. A failure of
// the group's own source (its loader or write-through) is internal:
// retrying it through another node would only ask the same sick source
// again.
func errorFromCache(err error) error {
	var le *cache.LoadError
	var we *cache.WriteError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cache.ErrTooManyLoads):
		return connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.As(err, &le), errors.As(err, &we):
		return connect.NewError(connect.CodeInternal, err)
	case errors.Is(err, cache.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, cache.ErrTooLarge):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, cache.ErrUnreachable), errors.Is(err, cache.ErrNoQuorum):
		// The key's owner or replicas could not be reached; the caller
		// may retry, perhaps through another node.
		return connect.NewError(connect.CodeUnavailable, err)
	default:
		return connect.NewError(connect.CodeInternal, err)
	}
}

// errUnknownGroup is the NotFound of a group this node does not serve.
func errUnknownGroup(name string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown group %q", name))
}

// fieldViolation builds an InvalidArgument error shaped exactly like the
// protovalidate interceptor's, for rules only the node knows at run time
// (such as --max-value-bytes).
func fieldViolation(number int32, name string, typ descriptorpb.FieldDescriptorProto_Type, ruleID, message string) error {
	v := validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{
				FieldNumber: proto.Int32(number),
				FieldName:   proto.String(name),
				FieldType:   typ.Enum(),
			}.Build(),
		}}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}.Build()
	verr := &protovalidate.ValidationError{Violations: []*protovalidate.Violation{{Proto: v}}}
	cerr := connect.NewError(connect.CodeInvalidArgument, verr)
	if detail, err := connect.NewErrorDetail(verr.ToProto()); err == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}
