package peer

import (
	"errors"
	"fmt"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// KeyErrorOf turns a Connect error into the per-key error a batch answer
// carries: its code, message and validation violations. An error that is
// not a Connect error is code unknown. nil gives nil.
func KeyErrorOf(err error) *distcachev1.KeyError {
	if err == nil {
		return nil
	}
	ke := &distcachev1.KeyError{Code: connect.CodeOf(err).String(), Message: err.Error()}
	var ce *connect.Error
	if errors.As(err, &ce) {
		ke.Message = ce.Message()
	}
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		ke.Violations = verr.ToProto().GetViolations()
	}
	return ke
}

// ErrorOfKey turns a per-key error back into a Connect error with its
// code and message (violations as a buf.validate.Violations detail). nil
// gives nil; an unknown code is code unknown.
func ErrorOfKey(ke *distcachev1.KeyError) error {
	if ke == nil {
		return nil
	}
	var code connect.Code
	if err := code.UnmarshalText([]byte(ke.GetCode())); err != nil {
		code = connect.CodeUnknown
	}
	cerr := connect.NewError(code, errors.New(ke.GetMessage()))
	if vs := ke.GetViolations(); len(vs) > 0 {
		if detail, err := connect.NewErrorDetail(validate.Violations_builder{Violations: vs}.Build()); err == nil {
			cerr.AddDetail(detail)
		}
	}
	return cerr
}

// errCount is the error of a peer that answered a batch with the wrong
// number of results.
func errCount(got, want int) error {
	return fmt.Errorf("peer answered %d results for %d keys", got, want)
}
