package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// oracleRecord is the size of an oracleGeneral record.
const oracleRecord = 24

// ParseBinary returns a [Reader] of a stream of 8-byte keys in byte order
// order: [binary.BigEndian] for the corda and scarab traces of Caffeine's
// and otter's simulators (both read them with a big-endian readLong).
// A stream that ends inside a key ends the trace with a [*ParseError].
func ParseBinary(r io.Reader, order binary.ByteOrder) Reader {
	return newBinaryReader(r, "", 8, func(rec []byte) (uint64, int64) { return order.Uint64(rec), 0 })
}

// ParseOracle returns a [Sized] reader of libCacheSim's oracleGeneral
// format: 24-byte little-endian records of a uint32 timestamp, a uint64
// object id (the key), a uint32 object size and an int64 next access
// (virtual time; unused here: Belady's OPT computes its own). A stream
// that ends inside a record ends the trace with a [*ParseError].
func ParseOracle(r io.Reader) Sized {
	return sizedBinaryReader{newBinaryReader(r, "", oracleRecord, decodeOracle)}
}

func decodeOracle(rec []byte) (uint64, int64) {
	return binary.LittleEndian.Uint64(rec[4:12]), int64(binary.LittleEndian.Uint32(rec[12:16]))
}

// decoder returns the key and size of one record of a binary format.
type decoder func(rec []byte) (key uint64, size int64)

// decoderOf returns the decoder of a binary format.
func decoderOf(f Format) decoder {
	switch f {
	case FormatBinary:
		return func(rec []byte) (uint64, int64) { return binary.BigEndian.Uint64(rec), 0 }
	case FormatBinaryLE:
		return func(rec []byte) (uint64, int64) { return binary.LittleEndian.Uint64(rec), 0 }
	}
	return decodeOracle
}

// binaryReader is the Reader of a format of fixed-size records.
type binaryReader struct {
	r      io.Reader
	file   string
	rec    []byte
	decode decoder
	n      int64 // records read
	size   int64
	done   bool
	err    error
}

func newBinaryReader(r io.Reader, file string, recSize int, decode decoder) *binaryReader {
	if _, ok := r.(*bufio.Reader); !ok {
		r = bufio.NewReader(r)
	}
	return &binaryReader{r: r, file: file, rec: make([]byte, recSize), decode: decode}
}

func (r *binaryReader) Next() (uint64, bool) {
	if r.done {
		return 0, false
	}
	got, err := io.ReadFull(r.r, r.rec)
	if err != nil {
		r.done = true
		if !errors.Is(err, io.EOF) || got > 0 {
			r.err = recordError(r.file, r.n, len(r.rec), got, err)
		}
		return 0, false
	}
	k, size := r.decode(r.rec)
	r.n++
	r.size = size
	return k, true
}

func (r *binaryReader) Err() error { return r.err }

// recordError is the error of reading record n (of recSize bytes), of which
// got bytes came before err.
func recordError(file string, n int64, recSize, got int, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = fmt.Errorf("the trace ends %d bytes into the record, of %d bytes (a truncated file?): %w",
			got, recSize, io.ErrUnexpectedEOF)
	}
	return &ParseError{File: file, Record: n, Offset: n * int64(recSize), Err: err}
}

type sizedBinaryReader struct{ *binaryReader }

func (r sizedBinaryReader) Size() int64 { return r.size }

// looksOracle reports whether head, the start of a binary trace, reads as
// oracleGeneral records: every whole record's next access is -1, the
// largest int64 (both "never") or in 0..2^48, which 8-byte keys read in
// 24-byte steps are not, unless they are tiny and little-endian. whole
// says head is the whole trace, whose length must then be a multiple of
// the record size.
func looksOracle(head []byte, whole bool) bool {
	if len(head) < oracleRecord || whole && len(head)%oracleRecord != 0 {
		return false
	}
	for ; len(head) >= oracleRecord; head = head[oracleRecord:] {
		next := int64(binary.LittleEndian.Uint64(head[16:24]))
		if next != -1 && next != math.MaxInt64 && (next < 0 || next >= 1<<48) {
			return false
		}
	}
	return true
}
