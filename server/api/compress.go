package api

import (
	"compress/gzip"
	"fmt"
	"io"

	"connectrpc.com/connect"
)

// boundedGzip is the gzip codec every handler on the port uses in place of
// connect-go's default. connect-go stops reading a message that inflates
// past the read limit, but then inflates the rest of it to report its
// size: a 1 MB gzip bomb costs a gigabyte of inflation work, and the
// handlers without a read limit (health, reflection) inflate it whole
// into memory. This decompressor refuses to produce more than limit+1
// bytes, so a bomb costs work proportional to the limit.
func boundedGzip(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &limitedGzip{limit: limit} },
		func() connect.Compressor {
			w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
			return w
		},
	)
}

// limitedGzip is a gzip reader that fails once it has produced more than
// limit+1 bytes since its last Reset. connect-go reads at most limit+1
// bytes of a message; the extra byte is how it learns the message is too
// large, and the failure stops it from inflating the rest.
type limitedGzip struct {
	gz    gzip.Reader
	limit int64 // the largest message allowed
	read  int64
}

func (r *limitedGzip) Read(p []byte) (int, error) {
	if r.read > r.limit {
		return 0, fmt.Errorf("decompressed message exceeds %d bytes", r.limit)
	}
	if room := r.limit + 1 - r.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := r.gz.Read(p)
	r.read += int64(n)
	return n, err
}

func (r *limitedGzip) Reset(src io.Reader) error {
	r.read = 0
	return r.gz.Reset(src)
}

func (r *limitedGzip) Close() error { return r.gz.Close() }
