package trace

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// peekSize is how much of a trace [Open] reads ahead to detect its format.
const peekSize = 64 << 10

// Open opens the trace file at path. A file starting with the gzip magic
// bytes is decompressed. The format is taken from the first line that is
// neither blank nor a comment: one field means LIRS ([ParseLIRS]), more mean
// ARC ([ParseARC]). Errors from the Reader name path and the line.
//
// The caller must close the returned Closer when done with the Reader.
func Open(path string) (Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("trace: %w", err)
	}
	src := bufio.NewReaderSize(f, peekSize)
	var closer io.Closer = f
	if isGzip(src) {
		zr, err := gzip.NewReader(src)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("trace: %s: %w", path, err)
		}
		src = bufio.NewReaderSize(zr, peekSize)
		closer = gzipCloser{zr: zr, f: f}
	}
	parse, err := detect(src)
	if err != nil {
		closer.Close()
		return nil, nil, fmt.Errorf("trace: %s: %w", path, err)
	}
	return newLineReader(src, path, parse), closer, nil
}

func isGzip(r *bufio.Reader) bool {
	magic, _ := r.Peek(2)
	return len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// detect picks the parser from the first data line within the peek window;
// with none there (an empty trace, or a long comment), it picks LIRS.
func detect(r *bufio.Reader) (lineParser, error) {
	head, err := r.Peek(peekSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil // maybe cut short by the window; judge it anyway
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if _, rest := field(line); rest != nil {
			if g, _ := field(rest); g != nil {
				return parseARCLine, nil
			}
		}
		return parseLIRSLine, nil
	}
	return parseLIRSLine, nil
}

// gzipCloser closes the decompressor and then the file under it.
type gzipCloser struct {
	zr *gzip.Reader
	f  *os.File
}

func (c gzipCloser) Close() error {
	return errors.Join(c.zr.Close(), c.f.Close())
}
