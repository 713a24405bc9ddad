package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// gRPC-Web's text mode (decision 0017) is its binary mode in base64: the
// request body is base64 (a client may send it as several padded chunks
// one after another), and so is the response body, trailer frame
// included. connect-go serves only the binary mode, so withGRPCWebText
// translates: it decodes the request into the binary mode for the
// handler and encodes the handler's answer back.

// The content types of gRPC-Web's text mode, and the binary mode's that
// the handler is given in their place.
const (
	grpcWebText      = "application/grpc-web-text"
	grpcWebTextProto = "application/grpc-web-text+proto"
	grpcWebProto     = "application/grpc-web+proto"
	grpcWebPrefix    = "application/grpc-web" // the binary mode's, any codec
)

// isGRPCWebText reports whether a request with this content type speaks
// gRPC-Web's text mode.
func isGRPCWebText(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	return ct == grpcWebText || ct == grpcWebTextProto
}

// withGRPCWebText serves gRPC-Web text-mode requests through h, which
// speaks the binary mode; every other request goes to h as it is. The
// request body is decoded as it is read, in constant memory, so a limit
// on r.Body (http.MaxBytesReader) bounds the encoded bytes. Response
// bytes are encoded as they are written; each flush ends its chunk with
// padding, so a client decoding every 4 characters it has gets each
// message as soon as it is flushed.
func withGRPCWebText(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !isGRPCWebText(r.Header.Get("Content-Type")) {
			h.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Content-Type", grpcWebProto)
		if r.Header.Get("Accept") != "" {
			r.Header.Set("Accept", grpcWebProto)
		}
		r.Body = textRequestBody{dec: newBase64Reader(r.Body), body: r.Body}
		r.ContentLength = -1 // the decoded length is not known
		tw := &textResponseWriter{w: w}
		defer tw.finish()
		h.ServeHTTP(tw, r)
	})
}

// textRequestBody is a text-mode request's body, decoded. Malformed
// base64 fails the read with invalid_argument, which connect-go answers
// as it is.
type textRequestBody struct {
	dec  *base64Reader
	body io.Closer
}

func (b textRequestBody) Read(p []byte) (int, error) {
	n, err := b.dec.Read(p)
	if _, bad := errors.AsType[*base64Error](err); bad {
		err = connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("grpc-web-text request: %w", err))
	}
	return n, err
}

func (b textRequestBody) Close() error { return b.body.Close() }

// textResponseWriter encodes a gRPC-Web response in base64 on its way to
// w. A response of another content type (a plain HTTP error) passes as
// it is.
type textResponseWriter struct {
	w           http.ResponseWriter
	enc         io.WriteCloser // nil until the header says gRPC-Web
	wroteHeader bool
}

func (t *textResponseWriter) Header() http.Header { return t.w.Header() }

func (t *textResponseWriter) WriteHeader(code int) {
	if code >= http.StatusOK {
		t.start()
	}
	t.w.WriteHeader(code)
}

// start decides, once, as the header is sent: a gRPC-Web answer is
// marked text mode and its body encoded from here on.
func (t *textResponseWriter) start() {
	if t.wroteHeader {
		return
	}
	t.wroteHeader = true
	h := t.w.Header()
	if strings.HasPrefix(h.Get("Content-Type"), grpcWebPrefix) {
		h.Set("Content-Type", grpcWebTextProto)
		h.Del("Content-Length")
		t.enc = base64.NewEncoder(base64.StdEncoding, t.w)
	}
}

func (t *textResponseWriter) Write(p []byte) (int, error) {
	t.start()
	if t.enc == nil {
		return t.w.Write(p)
	}
	return t.enc.Write(p)
}

// Flush pads and sends what was written so far.
func (t *textResponseWriter) Flush() { _ = t.FlushError() }

// FlushError is Flush for http.ResponseController, with its error.
func (t *textResponseWriter) FlushError() error {
	t.start()
	if err := t.endChunk(); err != nil {
		return err
	}
	return http.NewResponseController(t.w).Flush()
}

// endChunk writes the bytes the encoder holds back (up to 2), with
// padding, and starts a new chunk.
func (t *textResponseWriter) endChunk() error {
	if t.enc == nil {
		return nil
	}
	err := t.enc.Close()
	t.enc = base64.NewEncoder(base64.StdEncoding, t.w)
	return err
}

// finish ends the last chunk once the handler has returned. A handler
// that wrote nothing (a gRPC-Web trailers-only answer: the status in the
// header) leaves the header to be sent now, marked too.
func (t *textResponseWriter) finish() {
	t.start()
	_ = t.endChunk()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (t *textResponseWriter) Unwrap() http.ResponseWriter { return t.w }

// base64Reader decodes standard base64 read from src: one padded string,
// or several one after another (each chunk a client encoded on its own
// ends in padding), with an unpadded final chunk allowed; CR and LF are
// ignored. It holds at most 4 KiB of input at a time, however long the
// stream. Malformed input fails with a *base64Error after the bytes
// decoded before it.
type base64Reader struct {
	src     io.Reader
	in      [4096]byte // input not decoded yet: in[:n]
	n       int
	out     [3072]byte // decoded bytes: pending is the unread part
	pending []byte
	off     int64 // characters decoded before in[0], for errors
	err     error // the error once pending is read: io.EOF, src's or a *base64Error
}

func newBase64Reader(src io.Reader) *base64Reader { return &base64Reader{src: src} }

// base64Error says where the base64 went wrong.
type base64Error struct {
	at  int64 // the character, counted from 0, CR and LF not counted
	why string
}

func (e *base64Error) Error() string {
	return fmt.Sprintf("body is not valid base64: %s at character %d", e.why, e.at)
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

// fill reads once from src and decodes every whole 4-character quantum
// it holds; at the end of src it decodes the rest.
func (d *base64Reader) fill() {
	k, err := d.src.Read(d.in[d.n:])
	d.n += dropNewlines(d.in[d.n : d.n+k])
	whole := d.n / 4 * 4
	if err == io.EOF && d.n > whole {
		whole = d.n // an unpadded last chunk
	}
	out, derr := d.decode(d.in[:whole])
	d.pending = out
	d.n = copy(d.in[:], d.in[whole:d.n])
	d.off += int64(whole)
	switch {
	case derr != nil:
		d.err = derr
	case err != nil:
		d.err = err
	}
}

// decode decodes q, which is whole quanta except perhaps at the end of
// the input, chunk by chunk: a quantum with padding ends a chunk.
func (d *base64Reader) decode(q []byte) ([]byte, error) {
	out := d.out[:0]
	at := d.off
	for len(q) > 0 {
		end := len(q)
		if i := bytes.IndexByte(q, '='); i >= 0 {
			end = min(i/4*4+4, len(q))
		}
		chunk := q[:end]
		enc := base64.StdEncoding
		if len(chunk)%4 != 0 && end == len(q) && bytes.IndexByte(chunk, '=') < 0 {
			enc = base64.RawStdEncoding // the unpadded end of the input
		}
		m, err := enc.Decode(d.out[len(out):], chunk)
		out = d.out[:len(out)+m]
		if err != nil {
			var ce base64.CorruptInputError
			if errors.As(err, &ce) {
				return out, &base64Error{at: at + int64(ce), why: "unexpected character or padding"}
			}
			return out, &base64Error{at: at, why: err.Error()}
		}
		q = q[end:]
		at += int64(end)
	}
	return out, nil
}

// dropNewlines removes CR and LF from b in place and returns the length
// left.
func dropNewlines(b []byte) int {
	n := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			b[n] = c
			n++
		}
	}
	return n
}
