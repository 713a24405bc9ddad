package loader

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeRows compares sql_query's result decoding with encoding/json
// on the same bytes: strict decoding of one JSON value with UseNumber, then
// each {"$b64": "<standard base64>"} object (exactly that one key) turned
// into its bytes, and any other object refused.
//
// Where the fast path answers (ok), it answers as that does. Otherwise decodeRows is a json.Decoder with UseNumber, and
// agrees with strict decoding except in one place: it decodes the first
// JSON value and ignores whatever follows it (`[[1]] x` and `[[1]][[2]]`
// give [[1]]), where json.Unmarshal refuses trailing data.
func FuzzDecodeRows(f *testing.F) {
	for _, s := range []string{
		`[]`, `[[]]`, `[["a",1,-2.5e3,null],["",0]]`, `[["hello world"]]`, `[[18446744073709551616]]`,
		`[["esc\"aped","\u00e9"]]`, `[["é"]]`, ` [[1], [2]] `, `[[01]]`, `[[1.]]`, `[[-]]`, `[[nul]]`,
		`[[1]`, `[[1]]x`, `[[1]][[2]]`, `{"a":1}`, `null`, `[null]`, `[[true]]`, `[[{"a":1}]]`, "",
		`[[{"$b64":"AAEC/w=="},{"$b64":""}]]`, `[[{"$b64":"AAEC"}, {"$b64":"AA=="}]]`, `[[{"$b64":"AA"}]]`,
		`[[{"$b64":"AA==","x":1}]]`, `[[{"$b64":1}]]`, `[[{"$b64":"AA\u003d\u003d"}]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr, rest := strictRows(b)
		if fast, ok := decodeRowsFast(b); ok {
			if wantErr != nil || !reflect.DeepEqual(fast, want) {
				t.Fatalf("fast path: %#v; encoding/json: %#v, %v", fast, want, wantErr)
			}
		}
		rows, err := decodeRows(b)
		switch {
		case err == nil && wantErr == nil:
			if !reflect.DeepEqual(rows, want) {
				t.Fatalf("decodeRows: %#v; encoding/json: %#v", rows, want)
			}
		case err != nil && wantErr != nil:
		case err == nil && rest == nil:
			t.Fatalf("decodeRows accepted %q, which encoding/json refuses: %v", b, wantErr)
		case err != nil:
			t.Fatalf("decodeRows refused %q (%v), which encoding/json accepts", b, err)
		}
	})
}

// strictRows decodes b as decodeRows' result, the whole of b as one JSON
// value. If b's first value decodes and only trailing data is wrong, rest
// is that data.
func strictRows(b []byte) (rows [][]any, err error, rest []byte) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&rows); err != nil {
		return nil, err, nil
	}
	if err := blobsModel(rows); err != nil {
		return nil, err, nil
	}
	var extra json.RawMessage
	if err := d.Decode(&extra); err == nil || len(bytes.TrimSpace(b[d.InputOffset():])) > 0 {
		return nil, errTrailing, b[d.InputOffset():]
	}
	return rows, nil, nil
}

var errTrailing = errorString("trailing data after the rows")

// blobsModel replaces each {"$b64": base64} object of rows by its bytes.
func blobsModel(rows [][]any) error {
	for _, row := range rows {
		for j, v := range row {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			s, ok := m["$b64"].(string)
			if !ok || len(m) != 1 {
				return errorString("an object other than a blob")
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return err
			}
			row[j] = b
		}
	}
	return nil
}

// FuzzEncodeArgs: encodeArgs's JSON (fast path or not) decodes to the
// same values as encoding/json's encoding of the same arguments (bools as
// 1 and 0, []byte as a string, a Blob as {"$b64": base64}). The bytes may
// differ: encoding/json escapes <, > and & as \u003c..., the fast path
// does not.
func FuzzEncodeArgs(f *testing.F) {
	f.Add("k", []byte("b"), int64(-2), uint64(3), true, uint16(0x4321))
	f.Add("a<b>&c", []byte{}, int64(0), uint64(1<<64-1), false, uint16(0x0123))
	f.Add("quote\"", []byte("\xff"), int64(-1<<63), uint64(0), true, uint16(0x7654))
	f.Add("é\x00", []byte("tab\t"), int64(1<<53+1), uint64(7), false, uint16(0xffff))
	f.Fuzz(func(t *testing.T, s string, b []byte, i int64, u uint64, flag bool, order uint16) {
		all := []any{s, b, i, u, flag, nil, int(i), int32(i), uint32(u), float64(i) / 4, json.Number("12"), Blob(b)}
		var args []any
		for k := 0; k < 4; k++ { // up to four arguments, chosen by order's nibbles
			if c := int(order>>(4*k)) & 0xf; c < len(all) {
				args = append(args, all[c])
			}
		}
		got, err := encodeArgs(args)
		if err != nil {
			t.Fatalf("encodeArgs(%#v): %v", args, err)
		}
		if len(args) == 0 {
			if got != nil {
				t.Fatalf("encodeArgs() = %s, want nil", got)
			}
			return
		}
		want, err := json.Marshal(jsonArgs(args))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(got) || !reflect.DeepEqual(decodeNumbers(t, got), decodeNumbers(t, want)) {
			t.Fatalf("encodeArgs(%#v) = %s, encoding/json %s", args, got, want)
		}
		if fast, ok := appendArgsFast(nil, args); ok && !bytes.Equal(fast, got) {
			t.Fatalf("the fast path wrote %s, encodeArgs %s", fast, got)
		}
	})
}

// jsonArgs converts args as encodeArgs documents: []byte to string, bools
// to 1 or 0, Blob to {"$b64": base64}.
func jsonArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case []byte:
			out[i] = string(v)
		case Blob:
			out[i] = map[string]string{"$b64": base64.StdEncoding.EncodeToString(v)}
		case bool:
			out[i] = 0
			if v {
				out[i] = 1
			}
		default:
			out[i] = v
		}
	}
	return out
}

func decodeNumbers(t *testing.T, b []byte) []any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v []any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}
