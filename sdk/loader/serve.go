package loader

import (
	"bytes"
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

// instance is a registered loader and the settings of its last call,
// decoded (and passed to Configure) once for as long as they stay the
// same: decoding JSON costs tens of microseconds in WebAssembly.
type instance struct {
	l        Loader
	raw      []byte            // the last call's settings JSON
	settings map[string]string // raw, decoded
	err      error             // decoding or configuring raw failed
	ready    bool              // raw, settings and err are set
}

// serve runs one load: it decodes the settings (JSON of string values;
// empty means none) unless they are the last call's, calls the loader,
// and reports the outcome to out, returning the ABI status.
func (in *instance) serve(group, key string, settings []byte, out reply) int32 {
	if in.l == nil {
		out.setError("loader: no loader registered (call loader.Register from an init func)")
		return statusError
	}
	if !in.ready || !bytes.Equal(settings, in.raw) {
		in.configure(settings)
	}
	if in.err != nil {
		out.setError(in.err.Error())
		return statusError
	}
	res, err := call(in.l, Request{Group: group, Key: key, Settings: in.settings})
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

// configure decodes settings and, if the loader is a [Configurer],
// configures it with them, keeping the outcome for later calls.
func (in *instance) configure(settings []byte) {
	in.raw = append(in.raw[:0], settings...)
	in.settings, in.err, in.ready = nil, nil, true
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &in.settings); err != nil {
			in.settings, in.err = nil, fmt.Errorf("loader: settings: %w", err)
			return
		}
	}
	if c, ok := in.l.(Configurer); ok {
		in.err = configureSafely(c, in.settings)
	}
}

// configureSafely runs c.Configure, turning a panic into an error.
func configureSafely(c Configurer, settings map[string]string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("loader: panic in Configure: %v", r)
		}
	}()
	return c.Configure(settings)
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
