package trace

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is the layout of a trace file, as [Open] reads it.
type Format string

// The formats [Open] reads. See the package documentation for each layout.
const (
	// FormatAuto asks [Open] to detect the format: by the file name's
	// extension (after a compression suffix), then by the content.
	FormatAuto Format = "auto"
	// FormatARC is the text format of the ARC paper's traces: "start count
	// ..." per line for the blocks start..start+count-1.
	FormatARC Format = "arc"
	// FormatLIRS is the text format of the LIRS paper's traces: one block
	// number per line; a line of just "*" is skipped.
	FormatLIRS Format = "lirs"
	// FormatBinary is a stream of 8-byte big-endian keys, as the corda and
	// scarab traces of Caffeine's and otter's simulators are.
	FormatBinary Format = "binary"
	// FormatBinaryLE is a stream of 8-byte little-endian keys. Detection
	// never picks it: ask for it.
	FormatBinaryLE Format = "binary-le"
	// FormatOracle is libCacheSim's oracleGeneral: 24-byte little-endian
	// records of a uint32 timestamp, a uint64 object id, a uint32 object
	// size and an int64 next access (virtual time). It carries sizes.
	FormatOracle Format = "oracle"
	// FormatCSV is comma-separated text: a key and an optional size per
	// line, with an optional header naming the columns. It carries sizes
	// when it has a size column.
	FormatCSV Format = "csv"
)

// formats lists the formats in the order errors name them.
var formats = []Format{FormatAuto, FormatARC, FormatLIRS, FormatBinary, FormatBinaryLE, FormatOracle, FormatCSV}

// formatAliases are other names [ParseFormat] takes: the names Caffeine's,
// otter's and libCacheSim's simulators use.
var formatAliases = map[string]Format{
	"":              FormatAuto,
	"corda":         FormatBinary,
	"scarab":        FormatBinary,
	"oraclegeneral": FormatOracle,
}

// Formats returns the names [ParseFormat] takes, "auto" first (without
// aliases).
func Formats() []Format { return append([]Format(nil), formats...) }

// ParseFormat returns the format named s (case-insensitive): one of
// [Formats], or an alias ("corda" and "scarab" for binary,
// "oracleGeneral" for oracle). Any other name is an error that lists the
// names.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, f := range formats {
		if name == string(f) {
			return f, nil
		}
	}
	if f, ok := formatAliases[name]; ok {
		return f, nil
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("trace: unsupported format %q; want one of %s", s, strings.Join(names, ", "))
}

// Sized reports whether the format can carry object sizes (CSV does when
// it has a size column).
func (f Format) Sized() bool { return f == FormatOracle || f == FormatCSV }

// binary reports whether the format is one of fixed-size records, and
// that size.
func (f Format) recordSize() int {
	switch f {
	case FormatBinary, FormatBinaryLE:
		return 8
	case FormatOracle:
		return oracleRecord
	}
	return 0
}

// compressionSuffixes are the file name suffixes [formatByName] strips
// before it looks at the extension.
var compressionSuffixes = []string{".gz", ".gzip", ".xz", ".zst", ".zstd"}

// formatByName returns the format a file name says, or FormatAuto if it
// says none: .arc, .lirs or .trc (LIRS), .csv, a ".oracleGeneral"
// component anywhere (libCacheSim names files x.oracleGeneral.bin.zst and
// x.oracleGeneral.sample10), and .bin or .keys (8-byte big-endian keys).
// Case is ignored; a compression suffix is stripped first.
func formatByName(path string) Format {
	name := strings.ToLower(filepath.Base(path))
	for _, s := range compressionSuffixes {
		if strings.HasSuffix(name, s) {
			name = strings.TrimSuffix(name, s)
			break
		}
	}
	if strings.Contains(name+".", ".oraclegeneral.") {
		return FormatOracle
	}
	switch filepath.Ext(name) {
	case ".arc":
		return FormatARC
	case ".lirs", ".trc":
		return FormatLIRS
	case ".csv":
		return FormatCSV
	case ".bin", ".keys":
		return FormatBinary
	}
	return FormatAuto
}
