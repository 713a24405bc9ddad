package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bytes is a byte count. In YAML it is an integer number of bytes (1024) or
// a string of an integer and a unit, with or without one space between:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), such as
// "64MiB" or "1 GB". Units are case-sensitive.
type Bytes int64

// Byte units, for writing sizes in code (64 * MiB).
const (
	KB  Bytes = 1000
	MB  Bytes = 1000 * KB
	GB  Bytes = 1000 * MB
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
	TiB Bytes = 1 << 40
)

// units maps each unit a size string may end with to its size; the order
// is the one [Bytes.String] tries, largest first.
var units = []struct {
	name string
	size Bytes
}{
	{"GiB", GiB}, {"GB", GB}, {"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB}, {"B", 1},
}

var sizeRE = regexp.MustCompile(`^([0-9]+) ?(B|KB|KiB|MB|MiB|GB|GiB)?$`)

// Int64 returns b as an int64 number of bytes.
func (b Bytes) Int64() int64 { return int64(b) }

// String returns a positive b in the largest unit that divides it exactly
// ("64MiB", "1GB"), and any other b as a plain number ("1000001", "0").
func (b Bytes) String() string {
	for _, u := range units[:len(units)-1] {
		if b > 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalYAML writes b as [Bytes.String] does: a size string, or an
// integer if b has no exact unit. A File written with it round-trips.
func (b Bytes) MarshalYAML() (any, error) {
	if s := b.String(); s != strconv.FormatInt(int64(b), 10) {
		return s, nil
	}
	return int64(b), nil
}

// UnmarshalYAML decodes an integer or a size string. Its errors are
// [*Error]s holding the node's line.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return notA(n, "a size")
	}
	if n.ShortTag() == "!!int" {
		var v int64
		if err := n.Decode(&v); err != nil {
			return &Error{Line: n.Line, Problem: fmt.Sprintf("%s is too large", n.Value)}
		}
		*b = Bytes(v)
		return nil
	}
	v, problem := parseBytes(n.Value)
	if problem != "" {
		return &Error{Line: n.Line, Problem: problem}
	}
	*b = v
	return nil
}

// parseBytes parses a size string; it returns the problem if s is not one.
func parseBytes(s string) (Bytes, string) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Sprintf("%q is not a size (use a number of bytes or e.g. 64MiB)", s)
	}
	size := Bytes(1)
	for _, u := range units {
		if u.name == m[2] {
			size = u.size
		}
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/int64(size) {
		return 0, fmt.Sprintf("%q is too large", s)
	}
	return Bytes(n) * size, ""
}

// Duration is a [time.Duration] that decodes from a Go duration string
// ("30s", "10m", "1h30m") or 0, as [time.ParseDuration] reads it.
type Duration time.Duration

// Std returns d as a [time.Duration].
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns d as [time.Duration.String] does, without zero trailing
// units ("10m", "8760h", "1h30m", "1m30s", "0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalYAML writes d as [Duration.String] does, so a File round-trips.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML decodes a duration string. Its errors are [*Error]s holding
// the node's line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return notA(n, "a duration")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &Error{Line: n.Line, Problem: fmt.Sprintf(
			"%q is not a duration (use e.g. 30s, 10m, 1h30m, or 0)", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// notA is the error for node n that is not the scalar wanted.
func notA(n *yaml.Node, want string) *Error {
	return &Error{Line: n.Line, Problem: fmt.Sprintf("must be %s, not %s", want, describe(n))}
}

// describe names what node n is, for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	default:
		return strconv.Quote(n.Value)
	}
}
