package resp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// callError is a call's Connect error: its code ("not_found",
// "invalid_argument", ...) and message.
type callError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *callError) Error() string { return e.Code + ": " + e.Message }

// notFound reports whether err is a call's not_found.
func notFound(err error) bool {
	ce, ok := err.(*callError)
	return ok && ce.Code == "not_found"
}

// respError is the error line err answers: Connect's unauthenticated is
// NOAUTH, permission_denied NOPERM and unavailable TRYAGAIN (which Redis
// clients retry); anything else is ERR with the code and message.
func respError(err error) string {
	ce, ok := err.(*callError)
	if !ok {
		return "ERR " + oneLine(err.Error())
	}
	msg := oneLine(ce.Message)
	switch ce.Code {
	case "unauthenticated":
		return "NOAUTH " + msg
	case "permission_denied":
		return "NOPERM " + msg
	case "unavailable":
		return "TRYAGAIN " + msg
	}
	return "ERR " + ce.Code + ": " + msg
}

// oneLine keeps an error on the one line RESP allows it.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// procedures are the calls commands make.
var procedures = []string{
	distcachev1connect.CacheServiceGetProcedure,
	distcachev1connect.CacheServiceSetProcedure,
	distcachev1connect.CacheServiceDeleteProcedure,
	distcachev1connect.CacheServiceGetManyProcedure,
	distcachev1connect.CacheServiceSetManyProcedure,
	distcachev1connect.AdminServiceGetStatsProcedure,
}

// call makes the Connect unary call procedure with req through the node's
// handler, in process, as the session's client (its address and token),
// and decodes the answer into res. A Connect error comes back as a
// *callError.
func (s *Server) call(sess *session, procedure string, req, res proto.Message) error {
	body, err := proto.Marshal(req)
	if err != nil {
		return &callError{Code: "invalid_argument", Message: err.Error()}
	}
	r, err := http.NewRequestWithContext(s.ctx, http.MethodPost, procedure, bytes.NewReader(body))
	if err != nil {
		return &callError{Code: "internal", Message: err.Error()}
	}
	r.RemoteAddr = sess.addr
	r.Header.Set("Content-Type", "application/proto")
	r.Header.Set("Connect-Protocol-Version", "1")
	r.Header.Set("User-Agent", "distcache-resp")
	if sess.token != "" {
		r.Header.Set("Authorization", "Bearer "+sess.token)
	}
	h := s.services[procedure]
	if h == nil {
		h = s.cfg.Handler
	}
	var rec recorder
	h.ServeHTTP(&rec, r)
	if rec.status != 0 && rec.status != http.StatusOK {
		ce := &callError{}
		if err := json.Unmarshal(rec.body.Bytes(), ce); err != nil || ce.Code == "" {
			return &callError{Code: "internal", Message: "HTTP " + http.StatusText(rec.status) + ": " + rec.body.String()}
		}
		return ce
	}
	if err := proto.Unmarshal(rec.body.Bytes(), res); err != nil {
		return &callError{Code: "internal", Message: "decoding the answer: " + err.Error()}
	}
	return nil
}

// recorder is a ResponseWriter that keeps a unary answer in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
