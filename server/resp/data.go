package resp

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"github.com/tidwall/redcon"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// key maps a Redis key to its group and key ([SplitKey]). distcache keys
// are UTF-8 text; other bytes are refused here, with a clearer message
// than the encoder's.
func (s *Server) key(a []byte) (group, key string, err error) {
	if !utf8.Valid(a) {
		return "", "", &callError{Code: "invalid_argument",
			Message: fmt.Sprintf("invalid key %q: distcache keys are UTF-8 text", printable(a))}
	}
	group, key = SplitKey(string(a), s.isGroup, s.cfg.DefaultGroup)
	return group, key, nil
}

// get is a Get of a Redis key; found is false for not_found.
func (s *Server) get(sess *session, a []byte) (res *distcachev1.GetResponse, found bool, err error) {
	group, key, err := s.key(a)
	if err != nil {
		return nil, false, err
	}
	res = &distcachev1.GetResponse{}
	err = s.call(sess, distcachev1connect.CacheServiceGetProcedure, &distcachev1.GetRequest{Group: group, Key: key}, res)
	if notFound(err) {
		return nil, false, nil
	}
	return res, err == nil, err
}

// set is a Set of a Redis key; a nil ttl means the group's.
func (s *Server) set(sess *session, a, value []byte, ttl *durationpb.Duration) error {
	group, key, err := s.key(a)
	if err != nil {
		return err
	}
	req := &distcachev1.SetRequest{Group: group, Key: key, Value: value, Ttl: ttl}
	return s.call(sess, distcachev1connect.CacheServiceSetProcedure, req, &distcachev1.SetResponse{})
}

// del is a Delete of a Redis key.
func (s *Server) del(sess *session, a []byte) error {
	group, key, err := s.key(a)
	if err != nil {
		return err
	}
	req := &distcachev1.DeleteRequest{Group: group, Key: key}
	return s.call(sess, distcachev1connect.CacheServiceDeleteProcedure, req, &distcachev1.DeleteResponse{})
}

// GET key: the value, loaded on a miss, or nil.
func cmdGet(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	res, found, err := s.get(sess, args[1])
	switch {
	case err != nil:
		c.WriteError(respError(err))
	case !found:
		c.WriteNull()
	default:
		c.WriteBulk(res.GetValue())
	}
}

// SET key value [EX seconds | PX milliseconds]. Without either the entry
// gets its group's ttl, as a Set without one does.
func cmdSet(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	var ttl *durationpb.Duration
	for i := 3; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		switch opt {
		case "EX", "PX":
			if ttl != nil || i+1 == len(args) {
				c.WriteError(errSyntax)
				return
			}
			n, ok := parseInt(args[i+1])
			if !ok {
				c.WriteError(errNotInteger)
				return
			}
			if n <= 0 {
				c.WriteError("ERR invalid expire time in 'set' command")
				return
			}
			ttl = ttlOf(n, opt == "PX")
			i++
		case "NX", "XX", "GET", "KEEPTTL", "EXAT", "PXAT":
			c.WriteError("ERR SET option " + opt + " is not supported by distcache (supported: EX, PX)")
			return
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	if err := s.set(sess, args[1], args[2], ttl); err != nil {
		c.WriteError(respError(err))
		return
	}
	c.WriteString("OK")
}

// ttlOf is n seconds, or n milliseconds when ms, as a Duration (built
// from its parts, so a huge n does not overflow; Set refuses it).
func ttlOf(n int64, ms bool) *durationpb.Duration {
	if ms {
		return &durationpb.Duration{Seconds: n / 1000, Nanos: int32(n%1000) * int32(time.Millisecond)}
	}
	return &durationpb.Duration{Seconds: n}
}

// DEL key [key ...]: the number of keys removed, which is every key named
// (a Delete does not say whether the key was there).
func cmdDel(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	for _, a := range args[1:] {
		if err := s.del(sess, a); err != nil {
			c.WriteError(respError(err))
			return
		}
	}
	c.WriteInt(len(args) - 1)
}

// EXISTS key [key ...]: how many of the keys have a value (a key named
// twice counts twice). Like GET it loads a key the store does not hold.
func cmdExists(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	n := 0
	for _, a := range args[1:] {
		_, found, err := s.get(sess, a)
		if err != nil {
			c.WriteError(respError(err))
			return
		}
		if found {
			n++
		}
	}
	c.WriteInt(n)
}

// MGET key [key ...]: one GetMany per group; nil for a key not found.
func cmdMGet(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	keys := args[1:]
	values := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	order, byGroup := []string{}, map[string][]int{}
	req := map[string]*distcachev1.GetManyRequest{}
	for i, a := range keys {
		group, key, err := s.key(a)
		if err != nil {
			c.WriteError(respError(err))
			return
		}
		if req[group] == nil {
			req[group] = &distcachev1.GetManyRequest{Group: group}
			order = append(order, group)
		}
		req[group].Keys = append(req[group].Keys, key)
		byGroup[group] = append(byGroup[group], i)
	}
	for _, group := range order {
		var res distcachev1.GetManyResponse
		if err := s.call(sess, distcachev1connect.CacheServiceGetManyProcedure, req[group], &res); err != nil {
			c.WriteError(respError(err))
			return
		}
		for j, r := range res.GetResults() {
			if ke := r.GetError(); ke != nil && ke.GetCode() != "not_found" {
				c.WriteError(respError(&callError{Code: ke.GetCode(), Message: ke.GetMessage()}))
				return
			}
			if j < len(byGroup[group]) {
				i := byGroup[group][j]
				values[i], found[i] = r.GetValue(), r.GetFound()
			}
		}
	}
	c.WriteArray(len(keys))
	for i := range keys {
		if found[i] {
			c.WriteBulk(values[i])
		} else {
			c.WriteNull()
		}
	}
}

// MSET key value [key value ...]: one SetMany per group, each entry with
// its group's ttl. Every entry is checked first (the rules of Set, and
// the value limit), so a bad one stores nothing; an entry that fails
// later (an owner unreachable) fails the command but not the others.
func cmdMSet(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.WriteError(wrongArity("mset"))
		return
	}
	order, req := []string{}, map[string]*distcachev1.SetManyRequest{}
	for i := 1; i < len(args); i += 2 {
		group, key, err := s.key(args[i])
		if err == nil {
			err = s.checkSet(&distcachev1.SetRequest{Group: group, Key: key, Value: args[i+1]})
		}
		if err != nil {
			c.WriteError(respError(err))
			return
		}
		if req[group] == nil {
			req[group] = &distcachev1.SetManyRequest{Group: group}
			order = append(order, group)
		}
		req[group].Entries = append(req[group].Entries, &distcachev1.SetEntry{Key: key, Value: args[i+1]})
	}
	for _, group := range order {
		var res distcachev1.SetManyResponse
		if err := s.call(sess, distcachev1connect.CacheServiceSetManyProcedure, req[group], &res); err != nil {
			c.WriteError(respError(err))
			return
		}
		for _, r := range res.GetResults() {
			if ke := r.GetError(); ke != nil {
				c.WriteError(respError(&callError{Code: ke.GetCode(), Message: ke.GetMessage()}))
				return
			}
		}
	}
	c.WriteString("OK")
}

// checkSet checks req as the handler will: its fields' rules and the
// node's value limit.
func (s *Server) checkSet(req *distcachev1.SetRequest) error {
	if err := protovalidate.Validate(req); err != nil {
		return &callError{Code: "invalid_argument", Message: err.Error()}
	}
	if n := int64(len(req.GetValue())); n > s.cfg.MaxValueBytes {
		return &callError{Code: "invalid_argument", Message: fmt.Sprintf(
			"value length must be at most %d bytes (this node's --max-value-bytes), got %d", s.cfg.MaxValueBytes, n)}
	}
	return nil
}

// EXPIRE key seconds and PEXPIRE key milliseconds: 1 if the key has a
// value, 0 if not. The value is read (loaded on a miss) and set again
// with the new ttl: two calls, not one, so a Set of the key between them
// may be overwritten with the older value. A ttl of zero or less deletes
// the key, as in Redis.
func cmdExpire(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	if len(args) > 3 {
		c.WriteError("ERR " + strings.ToUpper(string(args[0])) + " options (NX, XX, GT, LT) are not supported by distcache")
		return
	}
	n, ok := parseInt(args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	res, found, err := s.get(sess, args[1])
	switch {
	case err != nil:
		c.WriteError(respError(err))
		return
	case !found:
		c.WriteInt(0)
		return
	case n <= 0:
		err = s.del(sess, args[1])
	default:
		err = s.set(sess, args[1], res.GetValue(), ttlOf(n, strings.EqualFold(string(args[0]), "pexpire")))
	}
	if err != nil {
		c.WriteError(respError(err))
		return
	}
	c.WriteInt(1)
}

// TTL key and PTTL key: the seconds (rounded as Redis does) or
// milliseconds the entry has left, -1 when it never expires, -2 when the
// key has no value. Like GET it loads a key the store does not hold.
func cmdTTL(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	res, found, err := s.get(sess, args[1])
	switch {
	case err != nil:
		c.WriteError(respError(err))
	case !found:
		c.WriteInt(-2)
	case res.GetTtl() == nil:
		c.WriteInt(-1)
	case strings.EqualFold(string(args[0]), "pttl"):
		c.WriteInt64(res.GetTtl().AsDuration().Milliseconds())
	default:
		c.WriteInt64((res.GetTtl().AsDuration().Milliseconds() + 500) / 1000)
	}
}
