package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *RateLimit
	}{
		{"absent", "", nil},
		{"null", "    rate_limit: ~\n", nil},
		{"both", "    rate_limit: {per_client: 100, burst: 200}\n", &RateLimit{PerClient: 100, Burst: 200}},
		{"burst defaults to per_client", "    rate_limit: {per_client: 100}\n", &RateLimit{PerClient: 100, Burst: 100}},
		{"burst rounds up", "    rate_limit:\n      per_client: 2.5\n", &RateLimit{PerClient: 2.5, Burst: 3}},
		{"tiny rate", "    rate_limit: {per_client: 0.001}\n", &RateLimit{PerClient: 0.001, Burst: 1}},
		{"limits", "    rate_limit: {per_client: 1000000, burst: 1000000}\n", &RateLimit{PerClient: 1e6, Burst: 1e6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("good.yaml", []byte(g1+tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Groups[0].RateLimit; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RateLimit = %+v, want %+v", got, tt.want)
			}
			out, err := yaml.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := Parse("again.yaml", out); err != nil || !reflect.DeepEqual(again, f) {
				t.Errorf("round trip: %v\n%s", err, out)
			}
		})
	}
}

func TestParseRateLimitBad(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		field string
		word  string // in the Problem
		line  int
	}{
		{"empty", "    rate_limit: {}\n", "groups[0].rate_limit.per_client", "required", 4},
		{"a scalar", "    rate_limit: 100\n", "groups[0].rate_limit", "mapping", 4},
		{"unknown field", "    rate_limit: {per_client: 1, per_ip: 2}\n", "groups[0].rate_limit.per_ip", "unknown", 4},
		{"per_client zero", "    rate_limit:\n      per_client: 0\n", "groups[0].rate_limit.per_client", "> 0", 5},
		{"per_client negative", "    rate_limit: {per_client: -1}\n", "groups[0].rate_limit.per_client", "> 0", 4},
		{"per_client NaN", "    rate_limit: {per_client: .nan}\n", "groups[0].rate_limit.per_client", "> 0", 4},
		{"per_client infinite", "    rate_limit: {per_client: .inf}\n", "groups[0].rate_limit.per_client", "<= 1000000", 4},
		{"per_client too high", "    rate_limit: {per_client: 1000001}\n", "groups[0].rate_limit.per_client", "<= 1000000", 4},
		{"per_client a word", "    rate_limit: {per_client: lots}\n", "groups[0].rate_limit.per_client", "not a number", 4},
		{"burst zero", "    rate_limit:\n      per_client: 1\n      burst: 0\n", "groups[0].rate_limit.burst", "1 to 1000000", 6},
		{"burst null", "    rate_limit: {per_client: 1, burst: ~}\n", "groups[0].rate_limit.burst", "1 to 1000000", 4},
		{"burst negative", "    rate_limit: {per_client: 1, burst: -3}\n", "groups[0].rate_limit.burst", "1 to 1000000", 4},
		{"burst too high", "    rate_limit: {per_client: 1, burst: 1000001}\n", "groups[0].rate_limit.burst", "1 to 1000000", 4},
		{"burst a fraction", "    rate_limit: {per_client: 1, burst: 1.5}\n", "groups[0].rate_limit.burst", "not an integer", 4},
		{"repeated", "    rate_limit: {per_client: 1, per_client: 2}\n", "groups[0].rate_limit.per_client", "repeated", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.yaml", []byte(g1+tt.yaml))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %+v, %v; want an *Error", f, err)
			}
			if e.Field != tt.field || !strings.Contains(e.Problem, tt.word) || e.Line != tt.line {
				t.Errorf("Parse: %q\n got field %q line %d\nwant field %q line %d, problem with %q",
					err, e.Field, e.Line, tt.field, tt.line, tt.word)
			}
		})
	}
}

// TestRateLimitInCode: a File built in code gets the burst default from
// validate, as a parsed one does.
func TestRateLimitInCode(t *testing.T) {
	f := &File{Groups: []Group{group("a", 1024)}}
	f.Groups[0].RateLimit = &RateLimit{PerClient: 0.5}
	if err := validate(checker{}, f); err != nil {
		t.Fatal(err)
	}
	if got := f.Groups[0].RateLimit.Burst; got != 1 {
		t.Errorf("Burst = %d, want 1", got)
	}
}
