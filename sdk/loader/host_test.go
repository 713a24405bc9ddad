package loader

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []any
		want    string
		wantErr string
	}{
		{"none", nil, "", ""},
		{"scalars", []any{"a", 1, int64(-2), uint8(3), 1.5, nil}, `["a",1,-2,3,1.5,null]`, ""},
		{"bytes as string", []any{[]byte("hi")}, `["hi"]`, ""},
		{"bools as numbers", []any{true, false}, `[1,0]`, ""},
		{"json.Number", []any{json.Number("12345678901234567890")}, `[12345678901234567890]`, ""},
		{"blob", []any{Blob("\xff\x00"), "é"}, `[{"$b64":"/wA="},"é"]`, ""},
		{"unsupported", []any{"a", struct{}{}}, "", "argument 1: struct {}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("encodeArgs = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestDecodeRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    [][]any
		wantErr bool
	}{
		{"no rows", `[]`, [][]any{}, false},
		{"values", `[["a",9007199254740993,1.5,null]]`,
			[][]any{{"a", json.Number("9007199254740993"), json.Number("1.5"), nil}}, false},
		{"two rows", `[[1],[2]]`, [][]any{{json.Number("1")}, {json.Number("2")}}, false},
		{"not rows", `{"a":1}`, nil, true},
		{"truncated", `[[1]`, nil, true},
		{"blob", `[[{"$b64":"/wD+"},"t"]]`, [][]any{{[]byte("\xff\x00\xfe"), "t"}}, false},
		{"blob, slow path", `[[ {"$b64" : "/wD+"}, "é"]]`, [][]any{{[]byte("\xff\x00\xfe"), "é"}}, false},
		{"bad base64", `[[{"$b64":"%%%"}]]`, nil, true},
		{"other object", `[[{"a":1}]]`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRows([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rows %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestNoHost: natively the host functions say there is no node.
func TestNoHost(t *testing.T) {
	if _, err := Query("SELECT 1"); !errors.Is(err, ErrNoHost) {
		t.Errorf("Query: %v, want ErrNoHost", err)
	}
	if _, err := Query("SELECT ?", struct{}{}); err == nil || errors.Is(err, ErrNoHost) {
		t.Errorf("Query with a bad argument: %v, want the argument's error", err)
	}
	if _, _, err := HTTPGet("http://example.com/"); !errors.Is(err, ErrNoHost) {
		t.Errorf("HTTPGet: %v, want ErrNoHost", err)
	}
	if Now().IsZero() {
		t.Error("Now is zero")
	}
	if d := SQLDialect(); d != "" {
		t.Errorf("SQLDialect outside a node = %q, want none", d)
	}
	Log(0, "test log line")
}

// TestDialectOf: sql_dialect's codes, and "" for a code this SDK does not
// know (a newer node's).
func TestDialectOf(t *testing.T) {
	for code, want := range map[int32]string{0: "", 1: DialectSQLite, 2: DialectPostgres, 3: DialectMySQL, 4: "", -1: ""} {
		if got := dialectOf(code); got != want {
			t.Errorf("dialectOf(%d) = %q, want %q", code, got, want)
		}
	}
}
