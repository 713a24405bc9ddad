package loader

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// recorded is what a load reported to the host.
type recorded struct {
	value    []byte
	hasValue bool
	ttl      int64
	errMsg   string
}

func (r *recorded) setValue(b []byte)   { r.value, r.hasValue = append([]byte(nil), b...), true }
func (r *recorded) setTTL(ms int64)     { r.ttl = ms }
func (r *recorded) setError(msg string) { r.errMsg = msg }

func TestServe(t *testing.T) {
	echo := LoaderFunc(func(req Request) (Response, error) {
		return Response{Value: []byte(req.Group + "/" + req.Key + "/" + req.Settings["table"])}, nil
	})
	for _, tc := range []struct {
		name       string
		l          Loader
		settings   string
		wantStatus int32
		want       recorded
	}{
		{"found", echo, `{"table":"pages"}`, statusFound, recorded{value: []byte("g/k/pages"), hasValue: true}},
		{"no settings", echo, ``, statusFound, recorded{value: []byte("g/k/"), hasValue: true}},
		{"null settings", echo, `null`, statusFound, recorded{value: []byte("g/k/"), hasValue: true}},
		{"bad settings", echo, `{"table":1}`, statusError, recorded{errMsg: "loader: settings: json: cannot unmarshal"}},
		{"empty value", LoaderFunc(func(Request) (Response, error) { return Response{}, nil }),
			``, statusFound, recorded{hasValue: true}},
		{"ttl", LoaderFunc(func(Request) (Response, error) { return Response{Value: []byte("v"), TTL: 90 * time.Second}, nil }),
			``, statusFound, recorded{value: []byte("v"), hasValue: true, ttl: 90_000}},
		{"ttl rounds up", LoaderFunc(func(Request) (Response, error) { return Response{TTL: time.Microsecond}, nil }),
			``, statusFound, recorded{hasValue: true, ttl: 1}},
		{"negative ttl", LoaderFunc(func(Request) (Response, error) { return Response{TTL: -time.Second}, nil }),
			``, statusError, recorded{errMsg: "loader: negative TTL -1s"}},
		{"not found", LoaderFunc(func(Request) (Response, error) { return Response{}, ErrNotFound }),
			``, statusNotFound, recorded{}},
		{"wrapped not found", LoaderFunc(func(Request) (Response, error) { return Response{}, fmt.Errorf("row 7: %w", ErrNotFound) }),
			``, statusNotFound, recorded{}},
		{"error", LoaderFunc(func(Request) (Response, error) { return Response{Value: []byte("x")}, errors.New("db down") }),
			``, statusError, recorded{errMsg: "db down"}},
		{"panic", LoaderFunc(func(Request) (Response, error) { panic("boom") }),
			``, statusError, recorded{errMsg: "loader: panic: boom"}},
		{"nil map write panics", LoaderFunc(func(req Request) (Response, error) { req.Settings["x"] = "y"; return Response{}, nil }),
			``, statusError, recorded{errMsg: "loader: panic: assignment to entry in nil map"}},
		{"nothing registered", nil, ``, statusError, recorded{errMsg: "loader: no loader registered"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got recorded
			status := (&instance{l: tc.l}).serve("g", "k", []byte(tc.settings), &got)
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d (error %q)", status, tc.wantStatus, got.errMsg)
			}
			if string(got.value) != string(tc.want.value) || got.hasValue != tc.want.hasValue || got.ttl != tc.want.ttl {
				t.Errorf("value %q (set %v) ttl %d, want %q (set %v) ttl %d",
					got.value, got.hasValue, got.ttl, tc.want.value, tc.want.hasValue, tc.want.ttl)
			}
			if !strings.HasPrefix(got.errMsg, tc.want.errMsg) || (tc.want.errMsg == "") != (got.errMsg == "") {
				t.Errorf("error %q, want one starting %q", got.errMsg, tc.want.errMsg)
			}
		})
	}
}

func TestServeSettings(t *testing.T) {
	var seen map[string]string
	l := LoaderFunc(func(req Request) (Response, error) { seen = req.Settings; return Response{}, nil })
	(&instance{l: l}).serve("g", "k", []byte(`{"a":"1","b":"two"}`), &recorded{})
	if want := map[string]string{"a": "1", "b": "two"}; !maps.Equal(seen, want) {
		t.Errorf("settings %v, want %v", seen, want)
	}
}

func TestRegister(t *testing.T) {
	t.Cleanup(func() { Register(nil) })
	l := LoaderFunc(func(Request) (Response, error) { return Response{}, ErrNotFound })
	Register(l)
	if registered.serve("g", "k", nil, &recorded{}) != statusNotFound {
		t.Error("the registered loader did not serve")
	}
}
