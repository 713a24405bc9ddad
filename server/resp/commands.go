package resp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

// command is one command of the subset. arity is Redis's: n > 0 means
// exactly n arguments with the name, -n at least n.
type command struct {
	arity int
	// open commands run before AUTH on a node that checks tokens.
	open bool
	run  func(s *Server, sess *session, c redcon.Conn, args [][]byte)
}

// commands are the commands served, by lower-case name. It is filled in
// init, as its functions list it for COMMAND.
var commands map[string]command

func init() {
	commands = map[string]command{
		"ping":    {arity: -1, run: cmdPing},
		"echo":    {arity: 2, run: cmdEcho},
		"get":     {arity: 2, run: cmdGet},
		"set":     {arity: -3, run: cmdSet},
		"del":     {arity: -2, run: cmdDel},
		"exists":  {arity: -2, run: cmdExists},
		"mget":    {arity: -2, run: cmdMGet},
		"mset":    {arity: -3, run: cmdMSet},
		"expire":  {arity: -3, run: cmdExpire},
		"pexpire": {arity: -3, run: cmdExpire},
		"ttl":     {arity: 2, run: cmdTTL},
		"pttl":    {arity: 2, run: cmdTTL},
		"info":    {arity: -1, run: cmdInfo},
		"auth":    {arity: -2, open: true, run: cmdAuth},
		"hello":   {arity: -1, open: true, run: cmdHello},
		"quit":    {arity: -1, open: true, run: cmdQuit},
		"client":  {arity: -2, run: cmdClient},
		"select":  {arity: 2, run: cmdSelect},
		"command": {arity: -1, run: cmdCommand},
	}
}

// handle answers one command; redcon calls it on the connection's
// goroutine, in the order the commands came.
func (s *Server) handle(c redcon.Conn, cmd redcon.Command) {
	sess, ok := c.Context().(*session)
	if !ok || len(cmd.Args) == 0 {
		c.WriteError("ERR Protocol error: empty command")
		return
	}
	sess.setBusy()
	name := strings.ToLower(string(cmd.Args[0]))
	def, ok := commands[name]
	switch {
	case !ok:
		c.WriteError(unknownCommand(cmd.Args))
	case !def.open && !sess.authed():
		c.WriteError("NOAUTH Authentication required.")
	case (def.arity > 0 && len(cmd.Args) != def.arity) || (def.arity < 0 && len(cmd.Args) < -def.arity):
		c.WriteError(wrongArity(name))
	default:
		def.run(s, sess, c, cmd.Args)
	}
}

// unknownCommand is Redis's answer to a command it does not have.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERR unknown command '%s', with args beginning with: ", printable(args[0]))
	for _, a := range args[1:min(len(args), 4)] {
		fmt.Fprintf(&b, "'%s' ", printable(a))
	}
	return b.String()
}

// printable shortens and flattens a client's argument for an error line.
func printable(a []byte) string {
	if len(a) > 64 {
		a = a[:64]
	}
	q := strconv.QuoteToASCII(string(a))
	return q[1 : len(q)-1]
}

// wrongArity is Redis's answer to a command with too few or many arguments.
func wrongArity(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

// errSyntax is Redis's answer to an option it does not know.
const errSyntax = "ERR syntax error"

// errNotInteger is Redis's answer to a number that is not one.
const errNotInteger = "ERR value is not an integer or out of range"

// parseInt parses a decimal integer argument.
func parseInt(a []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(a), 10, 64)
	return n, err == nil
}
