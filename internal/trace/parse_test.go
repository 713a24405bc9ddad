package trace

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) Reader
		in    string
		want  []uint64
	}{
		{"arc expands runs", arcText, "1 3 0 0\n10 1 0 0\n", []uint64{1, 2, 3, 10}},
		{"arc two fields", arcText, "5 2\n", []uint64{5, 6}},
		{"arc zero count", arcText, "5 0 0 0\n7 1 0 0\n", []uint64{7}},
		{"arc comments and blanks", arcText, "# header\n\n  \n4 2 0 0\n# more\n", []uint64{4, 5}},
		{"arc tabs and CRLF", arcText, "4\t2\t0\t0\r\n", []uint64{4, 5}},
		{"arc no final newline", arcText, "9 1 0 0", []uint64{9}},
		{"lirs", lirsText, "3\n1\n3\n", []uint64{3, 1, 3}},
		{"lirs comments and blanks", lirsText, "#x\n\n7\n  8  \n", []uint64{7, 8}},
		{"lirs max", lirsText, "18446744073709551615\n", []uint64{1<<64 - 1}},
		{"empty", lirsText, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Collect(tt.parse(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name     string
		parse    func(string) Reader
		in       string
		line     int
		contains string
	}{
		{"arc one field", arcText, "1 1 0 0\n2\n", 2, "want"},
		{"arc not a number", arcText, "# c\n\nx 1 0 0\n", 3, `"x"`},
		{"arc bad count", arcText, "1 -1 0 0\n", 1, `"-1"`},
		{"arc overflow", arcText, "18446744073709551615 2 0 0\n", 1, "overflows"},
		{"lirs two fields", lirsText, "1\n2\n3 4\n", 3, "one block"},
		{"lirs not a number", lirsText, "1\n1.5\n", 2, `"1.5"`},
		{"lirs too big", lirsText, "18446744073709551616\n", 1, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.parse(tt.in)
			for _, ok := r.Next(); ok; _, ok = r.Next() {
			}
			var pe *ParseError
			if !errors.As(r.Err(), &pe) {
				t.Fatalf("Err() = %v, want a *ParseError", r.Err())
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d", pe.Line, tt.line)
			}
			if msg := pe.Error(); !strings.Contains(msg, tt.contains) {
				t.Errorf("error %q does not contain %q", msg, tt.contains)
			}
		})
	}
}

func TestParseStopsAtError(t *testing.T) {
	r := ParseLIRS(strings.NewReader("1\nbad\n2\n"))
	got, _ := collectAll(r)
	if !slices.Equal(got, []uint64{1}) {
		t.Errorf("got %v, want [1]: keys after a bad line must not be read", got)
	}
	if _, ok := r.Next(); ok {
		t.Error("Next after an error returned a key")
	}
}

func arcText(s string) Reader  { return ParseARC(strings.NewReader(s)) }
func lirsText(s string) Reader { return ParseLIRS(strings.NewReader(s)) }

// collectAll returns the keys read before an error, and the error.
func collectAll(r Reader) ([]uint64, error) {
	var keys []uint64
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		keys = append(keys, k)
	}
	return keys, r.Err()
}
