package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
)

// MaxRequests is the most requests [File.Load] keeps: [NewFuture] numbers
// requests with 32 bits.
const MaxRequests = math.MaxUint32 - 1

// chunkSize is how much of the decompressed trace one parsing job takes.
// The first job takes firstChunk, and each next one twice the last, so
// that a small trace costs little. Tests make them small.
var (
	chunkSize  = 1 << 20
	firstChunk = 64 << 10
)

// chunkBufs recycles the buffers of chunkSize.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// minRead is the least room a chunk's buffer leaves after the part of a
// line the last chunk carried over.
const minRead = 4 << 10

// Trace is a whole trace in memory.
type Trace struct {
	Keys []uint64
	// Sizes holds each request's object size when the trace carries sizes
	// ([File.Sized]), and is nil otherwise.
	Sizes []uint32
}

// Len returns the number of requests.
func (t *Trace) Len() int { return len(t.Keys) }

// Reader returns a Reader of the trace's keys.
func (t *Trace) Reader() Reader { return Slice(t.Keys) }

// Load reads the rest of the file into memory. One goroutine reads and
// decompresses; GOMAXPROCS goroutines parse the trace in chunks of 1 MiB
// cut at line or record boundaries, so parsing keeps pace with the
// decompressor. It gives the keys and error [File.Reader] would (the
// first bad line or record in the file), except that a trace of more than
// [MaxRequests] is an error, and that after a failure to read it keeps
// every whole line or record read before it, where Reader may drop some.
// [File.Progress] counts the requests parsed so far.
func (f *File) Load() (*Trace, error) {
	sized := f.Sized()
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { f.produce(work, order, stop) })
	for range workers {
		wg.Go(func() {
			for c := range work {
				f.parseChunk(c, sized)
			}
		})
	}
	defer wg.Wait()
	var parts []*chunk
	total := 0
	var err error
	for c := range order {
		<-c.done
		if c.err == nil && total+len(c.keys) > MaxRequests {
			c.err = fmt.Errorf("trace: %s: more than %d requests, the most a trace loaded in memory may have", f.Path, MaxRequests)
		}
		if c.err != nil {
			err = c.err
			close(stop)
			for range order {
			}
			break
		}
		total += len(c.keys)
		f.parsed.Add(int64(len(c.keys)))
		parts = append(parts, c)
	}
	if err != nil {
		return nil, err
	}
	t := &Trace{Keys: make([]uint64, 0, total)}
	if sized {
		t.Sizes = make([]uint32, 0, total)
	}
	for _, c := range parts {
		t.Keys = append(t.Keys, c.keys...)
		t.Sizes = append(t.Sizes, c.sizes...)
	}
	return t, nil
}

// chunk is one parsing job and, once done is closed, its result.
type chunk struct {
	buf   []byte // holds data; recycled when parsed
	data  []byte
	line  int   // text: the number of data's first line
	rec   int64 // binary: the index of data's first record
	after error // an error that follows data: the end of the trace
	done  chan struct{}
	keys  []uint64
	sizes []uint32
	err   error // data's first error, else after
}

// produce reads the trace and cuts it into chunks, sent in order on both
// channels, until the end, an error, or stop.
func (f *File) produce(work, order chan<- *chunk, stop <-chan struct{}) {
	defer close(order)
	defer close(work)
	recSize := int64(f.Format.recordSize())
	line, rec := f.after+1, int64(0)
	var carry []byte
	for next := firstChunk; ; next = min(2*next, chunkSize) {
		size := max(next, len(carry)+minRead)
		var buf []byte
		if size == chunkSize {
			buf = (*chunkBufs.Get().(*[]byte))[:0]
		} else {
			buf = make([]byte, 0, size)
		}
		buf = append(buf, carry...)
		var eof bool
		var readErr error
		for len(buf) < size && !eof && readErr == nil {
			n, err := f.src.Read(buf[len(buf):size])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				readErr = err
			}
		}
		c := &chunk{buf: buf, line: line, rec: rec, done: make(chan struct{})}
		last := eof || readErr != nil
		if recSize > 0 {
			whole := int64(len(buf)) - int64(len(buf))%recSize
			c.data, carry = buf[:whole], buf[whole:]
			rec += whole / recSize
			switch {
			case readErr != nil:
				c.after = recordError(f.Path, rec, int(recSize), len(carry), readErr)
			case eof && len(carry) > 0:
				c.after = recordError(f.Path, rec, int(recSize), len(carry), io.ErrUnexpectedEOF)
			}
		} else {
			end := bytes.LastIndexByte(buf, '\n') + 1
			if eof && readErr == nil {
				end = len(buf) // the last line may lack its newline
			}
			c.data, carry = buf[:end], buf[end:]
			line += bytes.Count(c.data, []byte{'\n'})
			switch {
			case readErr != nil:
				c.after = &ParseError{File: f.Path, Line: line, Err: readErr}
			case len(carry) > MaxLine:
				c.after = &ParseError{File: f.Path, Line: line, Err: bufio.ErrTooLong}
				last = true
			}
		}
		carry = bytes.Clone(carry)
		select {
		case order <- c:
		case <-stop:
			return
		}
		select {
		case work <- c:
		case <-stop:
			close(c.done)
			return
		}
		if last {
			return
		}
	}
}

// parseChunk parses c.data into c.keys and c.sizes, then closes c.done.
func (f *File) parseChunk(c *chunk, sized bool) {
	defer close(c.done)
	defer func() {
		if b := c.buf[:0]; cap(b) == chunkSize {
			chunkBufs.Put(&b)
		}
		c.buf, c.data = nil, nil
	}()
	if n := f.Format.recordSize(); n > 0 {
		decode := decoderOf(f.Format)
		c.keys = make([]uint64, 0, len(c.data)/n)
		if sized {
			c.sizes = make([]uint32, 0, len(c.data)/n)
		}
		for b := c.data; len(b) >= n; b = b[n:] {
			k, size := decode(b[:n])
			c.keys = append(c.keys, k)
			if sized {
				c.sizes = append(c.sizes, uint32(size))
			}
		}
		c.err = c.after
		return
	}
	parse := f.lineFunc()
	line := c.line
	for data := c.data; len(data) > 0; line++ {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(l) > MaxLine {
			c.err = &ParseError{File: f.Path, Line: line, Err: bufio.ErrTooLong}
			return
		}
		b := bytes.TrimSpace(l)
		if skipLine(b) {
			continue
		}
		r, err := parse(b)
		if err != nil {
			c.err = &ParseError{File: f.Path, Line: line, Err: err}
			return
		}
		if uint64(len(c.keys))+r.count > MaxRequests {
			c.err = fmt.Errorf("trace: %s:%d: more than %d requests, the most a trace loaded in memory may have", f.Path, line, MaxRequests)
			return
		}
		for i := range r.count {
			c.keys = append(c.keys, r.key+i)
			if sized {
				c.sizes = append(c.sizes, uint32(r.size))
			}
		}
	}
	c.err = c.after
}
