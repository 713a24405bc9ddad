package resp

import (
	"slices"
	"strings"

	"github.com/tidwall/redcon"
)

// redisVersion is the Redis version the server says it speaks, for
// clients that check one (HELLO, INFO).
const redisVersion = "7.0.0"

// PING [message]: PONG, or the message.
func cmdPing(_ *Server, _ *session, c redcon.Conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.WriteString("PONG")
	case 2:
		c.WriteBulk(args[1])
	default:
		c.WriteError(wrongArity("ping"))
	}
}

// ECHO message.
func cmdEcho(_ *Server, _ *session, c redcon.Conn, args [][]byte) { c.WriteBulk(args[1]) }

// AUTH [username] token: the token of the node's --tokens-file that the
// connection's commands carry from now on; the username is ignored. On a
// node without tokens it is refused as Redis without a password refuses
// it.
func cmdAuth(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(errSyntax)
		return
	}
	if msg := s.auth(sess, string(args[len(args)-1])); msg != "" {
		c.WriteError(msg)
		return
	}
	c.WriteString("OK")
}

// auth checks token and gives it to sess; it returns the error line of a
// refusal, or "".
func (s *Server) auth(sess *session, token string) string {
	if !s.cfg.Tokens.Enabled() {
		return "ERR AUTH <password> called without any password configured for the default user. " +
			"Are you sure your configuration is correct?"
	}
	if _, ok := s.cfg.Tokens.Lookup(token); !ok {
		return "WRONGPASS invalid username-password pair or user is disabled."
	}
	sess.token = token
	return ""
}

// HELLO [protover [AUTH username password] [SETNAME name]]: protocol 2
// only. HELLO 3 is refused with NOPROTO, which go-redis and other RESP3
// clients take as "speak RESP2".
func cmdHello(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	if len(args) > 1 {
		v, ok := parseInt(args[1])
		if !ok {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 {
			c.WriteError("NOPROTO unsupported protocol version")
			return
		}
	}
	name, token := sess.name, ""
	for i := 2; i < len(args); i++ {
		switch opt := strings.ToUpper(string(args[i])); {
		case opt == "AUTH" && i+2 < len(args):
			token = string(args[i+2])
			i += 2
		case opt == "SETNAME" && i+1 < len(args):
			name = string(args[i+1])
			i++
		default:
			c.WriteError("ERR Syntax error in HELLO option '" + printable(args[i]) + "'")
			return
		}
	}
	if token != "" {
		if msg := s.auth(sess, token); msg != "" {
			c.WriteError(msg)
			return
		}
	}
	if !sess.authed() {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, " +
			"otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	sess.name = name
	c.WriteArray(14)
	for _, kv := range [][2]string{{"server", "redis"}, {"version", redisVersion}} {
		c.WriteBulkString(kv[0])
		c.WriteBulkString(kv[1])
	}
	c.WriteBulkString("proto")
	c.WriteInt(2)
	c.WriteBulkString("id")
	c.WriteInt64(sess.id)
	for _, kv := range [][2]string{{"mode", "standalone"}, {"role", "master"}} {
		c.WriteBulkString(kv[0])
		c.WriteBulkString(kv[1])
	}
	c.WriteBulkString("modules")
	c.WriteArray(0)
}

// QUIT: OK, then the connection closes.
func cmdQuit(_ *Server, _ *session, c redcon.Conn, _ [][]byte) {
	c.WriteString("OK")
	_ = c.Close() // redcon writes what is buffered first
}

// SELECT index: only database 0 exists.
func cmdSelect(_ *Server, _ *session, c redcon.Conn, args [][]byte) {
	n, ok := parseInt(args[1])
	switch {
	case !ok:
		c.WriteError(errNotInteger)
	case n != 0:
		c.WriteError("ERR DB index is out of range")
	default:
		c.WriteString("OK")
	}
}

// CLIENT SETNAME name | GETNAME | ID | SETINFO attr value.
func cmdClient(_ *Server, sess *session, c redcon.Conn, args [][]byte) {
	sub := strings.ToUpper(string(args[1]))
	switch {
	case sub == "SETNAME" && len(args) == 3:
		if strings.ContainsAny(string(args[2]), " \n") {
			c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		sess.name = string(args[2])
		c.WriteString("OK")
	case sub == "GETNAME" && len(args) == 2:
		if sess.name == "" {
			c.WriteNull()
			return
		}
		c.WriteBulkString(sess.name)
	case sub == "ID" && len(args) == 2:
		c.WriteInt64(sess.id)
	case sub == "SETINFO" && len(args) == 4:
		c.WriteString("OK") // LIB-NAME, LIB-VER: accepted, not kept
	case slices.Contains([]string{"SETNAME", "GETNAME", "ID", "SETINFO"}, sub):
		c.WriteError(wrongArity("client|" + strings.ToLower(sub)))
	default:
		c.WriteError("ERR unknown subcommand '" + printable(args[1]) + "'. Try CLIENT HELP.")
	}
}

// COMMAND [COUNT | DOCS | INFO name...]: the commands served, with their
// arity, for redis-cli's hints and clients that look commands up. DOCS
// answers an empty map: redis-cli then uses its own help.
func cmdCommand(_ *Server, _ *session, c redcon.Conn, args [][]byte) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	sub := ""
	if len(args) > 1 {
		sub = strings.ToUpper(string(args[1]))
	}
	switch sub {
	case "":
		c.WriteArray(len(names))
		for _, name := range names {
			writeCommandInfo(c, name)
		}
	case "COUNT":
		c.WriteInt(len(names))
	case "DOCS":
		c.WriteArray(0)
	case "INFO":
		c.WriteArray(len(args) - 2)
		for _, a := range args[2:] {
			if name := strings.ToLower(string(a)); commands[name].run != nil {
				writeCommandInfo(c, name)
			} else {
				c.WriteNull()
			}
		}
	default:
		c.WriteError("ERR unknown subcommand '" + printable(args[1]) + "'. Try COMMAND HELP.")
	}
}

// writeCommandInfo writes one COMMAND entry in Redis 7's ten fields.
func writeCommandInfo(c redcon.Conn, name string) {
	first, last, step := 0, 0, 0
	switch name {
	case "get", "set", "expire", "pexpire", "ttl", "pttl":
		first, last, step = 1, 1, 1
	case "del", "exists", "mget":
		first, last, step = 1, -1, 1
	case "mset":
		first, last, step = 1, -1, 2
	}
	c.WriteArray(10)
	c.WriteBulkString(name)
	c.WriteInt(commands[name].arity)
	c.WriteArray(0) // flags
	c.WriteInt(first)
	c.WriteInt(last)
	c.WriteInt(step)
	c.WriteArray(0) // ACL categories
	c.WriteArray(0) // tips
	c.WriteArray(0) // key specifications
	c.WriteArray(0) // subcommands
}
