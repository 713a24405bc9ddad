package loader

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeRowsFast: where the fast path answers, it answers as
// encoding/json does, and it leaves anything unusual to encoding/json.
func TestDecodeRowsFast(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{`[]`, true},
		{`[[]]`, true},
		{`[["a",1,-2.5e3,null],["",0]]`, true},
		{`[["hello world"]]`, true},
		{`[["esc\"aped"]]`, false},
		{`[["é"]]`, false},
		{`[[01]]`, false},
		{`[[1.]]`, false},
		{`[[-]]`, false},
		{`[[nul]]`, false},
		{`[[1] ]`, false},
		{`[[1]`, false},
		{`[[1]]x`, false},
		{`{"a":1}`, false},
		{`[["a"]`, false},
		{`[[{"$b64":"/wD+"},{"$b64":""}]]`, true},
		{`[[{"$b64": "/wD+"}]]`, false},
		{`[[{"$b64":"/wD"}]]`, false},
		{`[[{"$b64":"/wD+","x":1}]]`, false},
		{`[[{"$b64":"/wD+"]]`, false},
	} {
		rows, ok := decodeRowsFast([]byte(tc.in))
		if ok != tc.fast {
			t.Errorf("%s: fast %v, want %v", tc.in, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		want, err := decodeRowsSlow([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("%s: %#v, want %#v", tc.in, rows, want)
		}
	}
}

func TestAppendArgsFast(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want string // "" if the fast path declines
	}{
		{[]any{"k", 1, int64(-2), uint32(3), true, false, nil, []byte("b")}, `["k",1,-2,3,1,0,null,"b"]`},
		{[]any{Blob("\xff\x00\xfe"), Blob{}}, `[{"$b64":"/wD+"},{"$b64":""}]`},
		{[]any{"quote\""}, ""},
		{[]any{"é"}, ""},
		{[]any{1.5}, ""},
		{[]any{json.Number("1")}, ""},
	} {
		got, ok := appendArgsFast(nil, tc.args)
		if !ok {
			got = nil
		}
		if string(got) != tc.want {
			t.Errorf("appendArgsFast(%#v) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

// configured counts Configure calls and serves the configured prefix.
type configured struct {
	calls  int
	prefix string
}

func (c *configured) Configure(s map[string]string) error {
	c.calls++
	if s["bad"] != "" {
		return errorString("bad setting")
	}
	c.prefix = s["p"]
	return nil
}

func (c *configured) Load(req Request) (Response, error) {
	return Response{Value: []byte(c.prefix + req.Key)}, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestConfigurer: Configure runs once per distinct settings, and its
// error fails loads without calling Load.
func TestConfigurer(t *testing.T) {
	c := &configured{}
	in := &instance{l: c}
	for i, tc := range []struct {
		settings, want, wantErr string
		calls                   int
	}{
		{`{"p":"a/"}`, "a/k", "", 1},
		{`{"p":"a/"}`, "a/k", "", 1},
		{`{"p":"b/"}`, "b/k", "", 2},
		{`{"bad":"x"}`, "", "bad setting", 3},
		{`{"bad":"x"}`, "", "bad setting", 3},
		{``, "k", "", 4},
	} {
		var got recorded
		in.serve("g", "k", []byte(tc.settings), &got)
		if string(got.value) != tc.want || got.errMsg != tc.wantErr || c.calls != tc.calls {
			t.Errorf("call %d: value %q error %q after %d Configure calls; want %q, %q, %d",
				i, got.value, got.errMsg, c.calls, tc.want, tc.wantErr, tc.calls)
		}
	}
}
