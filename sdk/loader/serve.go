package loader

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// abiVersion is the plugin ABI version this SDK speaks.
const abiVersion = 1

// The statuses distcache_loader_load returns.
const (
	statusFound    = 0
	statusNotFound = 1
	statusError    = 2
)

// reply is where a load's outcome goes; in WebAssembly, the host's
// set_value, set_ttl and set_error.
type reply interface {
	setValue(b []byte)
	setTTL(ms int64)
	setError(msg string)
}

// serve runs one load on l: it decodes the settings (JSON of string
// values; empty means none), calls l, and reports the outcome to out,
// returning the ABI status.
func serve(l Loader, group, key string, settings []byte, out reply) int32 {
	if l == nil {
		out.setError("loader: no loader registered (call loader.Register from an init func)")
		return statusError
	}
	req := Request{Group: group, Key: key}
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &req.Settings); err != nil {
			out.setError("loader: settings: " + err.Error())
			return statusError
		}
	}
	res, err := call(l, req)
	switch {
	case errors.Is(err, ErrNotFound):
		return statusNotFound
	case err != nil:
		out.setError(err.Error())
		return statusError
	case res.TTL < 0:
		out.setError(fmt.Sprintf("loader: negative TTL %v for key %q", res.TTL, key))
		return statusError
	}
	out.setValue(res.Value)
	if res.TTL > 0 {
		out.setTTL(int64((res.TTL + time.Millisecond - 1) / time.Millisecond))
	}
	return statusFound
}

// call runs l.Load, turning a panic into an error.
func call(l Loader, req Request) (res Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Response{}, fmt.Errorf("loader: panic: %v", r)
		}
	}()
	return l.Load(req)
}
