// Package cli is distcache's command line client: the get, set, del,
// stats, members, owner, plugins, policy and watch subcommands of the node
// binary.
//
//	distcache set hello world
//	distcache get hello
//	echo -n '{"a":1}' | distcache set --ttl 10m config
//
// It is built on the Go client (sdk/client), so it retries on another node
// and sends a key's calls to its owner. It keeps redis-cli's habits: get
// writes the raw value to stdout, set takes the value as an argument or
// from stdin, and the exit code says what happened (see [Main]).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/term"

	"github.com/distcache/distcache/sdk/client"
)

// Exit codes of [Main].
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitNotFound: the key is not in the group's source, or the group or
	// policy does not exist.
	ExitNotFound = 1
	// ExitUsage: the command line or the input was wrong (a bad flag, a
	// missing argument, a key or value the node refused as invalid).
	ExitUsage = 2
	// ExitDenied: the node refused the credentials (no token, a wrong
	// one, or one without the call's scope).
	ExitDenied = 3
	// ExitUnavailable: no node answered in time, or the node asked the
	// client to slow down; trying again later may work.
	ExitUnavailable = 4
	// ExitError: any other failure.
	ExitError = 5
)

// IO is what a command reads and writes.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment (DISTCACHE_ADDR and the others).
	Getenv func(string) string
	// StdinIsTerminal and StdoutIsTerminal say whether a person is typing
	// and reading: set then waits for no value on stdin, and get ends a
	// value with a newline.
	StdinIsTerminal, StdoutIsTerminal bool
}

// StdIO is the process's own standard streams and environment.
func StdIO() IO {
	return IO{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		StdinIsTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// command is one subcommand.
type command struct {
	usage string // arguments after the command's name
	help  string // one line
	// flags adds the command's own flags to fs.
	flags func(fs *flag.FlagSet, o *opts)
	// args is how many positional arguments it takes, min and max (-1:
	// any number).
	minArgs, maxArgs int
	run              func(ctx context.Context, c *call) error
}

var commands = map[string]*command{}

func init() {
	commands["get"] = &command{usage: "KEY", help: "print the value of KEY (raw bytes; loaded from the group's source on a miss)", minArgs: 1, maxArgs: 1, run: runGet}
	commands["set"] = &command{usage: "KEY [VALUE]", help: "store VALUE under KEY; without VALUE, read it from stdin", minArgs: 1, maxArgs: 2, run: runSet,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.Var(&o.ttl, "ttl", "how long the entry lives (`duration`, e.g. 30s, 10m; 0: never expires); default: the group's ttl")
		}}
	commands["del"] = &command{usage: "KEY...", help: "delete keys (from the cache and a write-through group's source)", minArgs: 1, maxArgs: -1, run: runDel}
	commands["stats"] = &command{usage: "[GROUP]", help: "print the groups' counters on one node, or on every member with --all", maxArgs: 1, run: runStats,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.BoolVar(&o.all, "all", false, "ask every member of the cluster, one row per member and group")
		}}
	commands["members"] = &command{usage: "", help: "list the cluster's members as the node reached sees them (* marks that node)", run: runMembers}
	commands["owner"] = &command{usage: "KEY", help: "print the member that owns KEY", minArgs: 1, maxArgs: 1, run: runOwner}
	commands["plugins"] = &command{usage: "", help: "list the plugin modules the node has loaded and the groups they serve", run: runPlugins}
	commands["policy"] = &command{usage: "GROUP [POLICY]", help: "print GROUP's eviction policy, or switch it to POLICY (needs the admin token)", minArgs: 1, maxArgs: 2, run: runPolicy,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.BoolVar(&o.all, "all", false, "every member of the cluster, not only the node reached (a switch goes through the node reached, which asks the others)")
		}}
	commands["watch"] = &command{usage: "[GROUP]", help: "print one node's counters every --interval, like redis-cli --stat; Ctrl-C stops", maxArgs: 1, run: runWatch,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.DurationVar(&o.interval, "interval", time.Second, "time between lines")
			fs.IntVar(&o.count, "count", 0, "stop after this many lines (0: until Ctrl-C)")
		}}
}

// IsCommand reports whether name is one of the client's subcommands (or
// "help").
func IsCommand(name string) bool {
	_, ok := commands[name]
	return ok || name == "help"
}

// valueFlags are the flags every command takes; each takes a value.
var valueFlags = map[string]bool{"addr": true, "token": true, "admin-token": true, "group": true, "g": true, "o": true, "protocol": true, "timeout": true}

// Command finds a client command in the node binary's arguments: args[0]
// is a command, or the command follows flags every command takes
// ("distcache --addr host:6000 get k", as redis-cli is used). It returns
// the arguments for [Main], with those flags moved after the command's
// name, and false when args are a node's flags.
func Command(args []string) ([]string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if IsCommand(a) {
			return append(append([]string{a}, args[:i]...), args[i+1:]...), true
		}
		if !strings.HasPrefix(a, "-") {
			return nil, false
		}
		name, _, inline := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if !valueFlags[name] {
			return nil, false
		}
		if !inline {
			i++ // its value
		}
	}
	return nil, false
}

// opts are the flags every command takes, plus the commands' own.
type opts struct {
	addr, token, adminToken, group, output, protocol string
	timeout                                          time.Duration

	ttl      optDuration
	all      bool
	interval time.Duration
	count    int
}

// optDuration is a duration flag that remembers whether it was given.
type optDuration struct {
	d   time.Duration
	set bool
}

func (o *optDuration) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 30s or 10m")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	o.d, o.set = d, true
	return nil
}

// call is one command's run: its options, arguments, client and streams.
type call struct {
	opts
	args   []string
	io     IO
	urls   []string
	client *client.Client
}

// Main runs the subcommand args[0] with the rest of args and returns the
// process's exit code: [ExitOK], [ExitNotFound], [ExitUsage],
// [ExitDenied], [ExitUnavailable] or [ExitError]. Errors go to stderr as
// one line.
func Main(ctx context.Context, args []string, sio IO) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(sio.Stdout)
		return ExitOK
	}
	name := args[0]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(sio.Stderr, "distcache: unknown command %q\n", name)
		usage(sio.Stderr)
		return ExitUsage
	}
	c := &call{io: sio}
	fs := flag.NewFlagSet("distcache "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.globalFlags(fs, sio.Getenv)
	if cmd.flags != nil {
		cmd.flags(fs, &c.opts)
	}
	var err error
	if c.args, err = parseInterleaved(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(sio.Stdout, name, cmd, fs)
			return ExitOK
		}
		fmt.Fprintf(sio.Stderr, "distcache %s: %v\n", name, err)
		commandUsage(sio.Stderr, name, cmd, fs)
		return ExitUsage
	}
	if err := c.check(cmd); err != nil {
		fmt.Fprintf(sio.Stderr, "distcache %s: %v\n", name, err)
		return ExitUsage
	}
	if c.timeout > 0 && name != "watch" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if c.client, err = c.newClient(c.urls, name == "get" || name == "set" || name == "del"); err != nil {
		fmt.Fprintf(sio.Stderr, "distcache %s: %v\n", name, err)
		return ExitUsage
	}
	defer c.client.Close()
	if err := cmd.run(ctx, c); err != nil {
		if !strings.HasPrefix(err.Error(), "distcache: ") {
			err = fmt.Errorf("distcache %s: %w", name, err)
		}
		fmt.Fprintln(sio.Stderr, err)
		return exitCode(err)
	}
	return ExitOK
}

// globalFlags adds the flags every command takes; their defaults come
// from the environment.
func (c *call) globalFlags(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.addr, "addr", env("DISTCACHE_ADDR", "127.0.0.1:8080"), "node(s) to call, comma-separated: host:port, :port or http(s):// URLs (env DISTCACHE_ADDR)")
	fs.StringVar(&c.token, "token", env("DISTCACHE_TOKEN", ""), "data-plane token, for nodes started with --tokens-file (env DISTCACHE_TOKEN)")
	fs.StringVar(&c.adminToken, "admin-token", env("DISTCACHE_ADMIN_TOKEN", ""), "admin token, for policy changes (env DISTCACHE_ADMIN_TOKEN)")
	fs.StringVar(&c.group, "group", env("DISTCACHE_GROUP", "default"), "cache group (env DISTCACHE_GROUP)")
	fs.StringVar(&c.group, "g", env("DISTCACHE_GROUP", "default"), "short for --group")
	fs.StringVar(&c.output, "o", "text", "output: text or json")
	fs.StringVar(&c.protocol, "protocol", "grpc", "wire protocol: grpc, connect or grpcweb")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long the whole command may take (0: no limit; watch has none)")
}

// parseInterleaved parses flags that come before, between or after the
// positional arguments, as redis-cli users expect; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first positional argument or after "--".
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// check validates the options and arguments before any call.
func (c *call) check(cmd *command) error {
	switch {
	case len(c.args) < cmd.minArgs:
		return fmt.Errorf("missing argument: usage: %s", cmd.usage)
	case cmd.maxArgs >= 0 && len(c.args) > cmd.maxArgs:
		return fmt.Errorf("too many arguments (%d): usage: %s", len(c.args), cmd.usage)
	case c.output != "text" && c.output != "json":
		return fmt.Errorf("-o %q: want text or json", c.output)
	case c.timeout < 0:
		return fmt.Errorf("--timeout %v: must not be negative", c.timeout)
	case c.interval <= 0 && cmd == commands["watch"]:
		return fmt.Errorf("--interval %v: must be positive", c.interval)
	case c.count < 0:
		return fmt.Errorf("--count %d: must not be negative", c.count)
	}
	if c.group == "" {
		return errors.New("--group is empty")
	}
	urls, err := nodeURLs(c.addr)
	if err != nil {
		return err
	}
	c.urls = urls
	return nil
}

// nodeURLs turns --addr into base URLs: host:port and :port (the node's
// own --addr form) become http:// URLs on that host, or on 127.0.0.1.
func nodeURLs(addr string) ([]string, error) {
	var urls []string
	for a := range strings.SplitSeq(addr, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !strings.Contains(a, "://") {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("--addr %q: want host:port, :port or an http(s):// URL", a)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			a = "http://" + net.JoinHostPort(host, port)
		}
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--addr %q: want host:port, :port or an http(s):// URL", a)
		}
		urls = append(urls, strings.TrimSuffix(a, "/"))
	}
	if len(urls) == 0 {
		return nil, errors.New("--addr is empty")
	}
	return urls, nil
}

// newClient returns a client of urls with the call's credentials and
// protocol; route sends each key's calls to its owner first.
func (c *call) newClient(urls []string, route bool) (*client.Client, error) {
	var p client.Protocol
	switch c.protocol {
	case "grpc":
		p = client.ProtocolGRPC
	case "connect":
		p = client.ProtocolConnect
	case "grpcweb":
		p = client.ProtocolGRPCWeb
	default:
		return nil, fmt.Errorf("--protocol %q: want grpc, connect or grpcweb", c.protocol)
	}
	o := []client.Option{client.WithProtocol(p)}
	if c.token != "" {
		o = append(o, client.WithToken(c.token))
	}
	if c.adminToken != "" {
		o = append(o, client.WithAdminToken(c.adminToken))
	}
	if route {
		o = append(o, client.WithOwnerRouting(0))
	}
	return client.New(urls, o...)
}

// exitCode maps an error of a call to the exit code that names its kind.
func exitCode(err error) int {
	if errors.Is(err, client.ErrNotFound) {
		return ExitNotFound
	}
	if errors.Is(err, errUsage) {
		return ExitUsage
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitUnavailable
	}
	switch connect.CodeOf(err) {
	case connect.CodeNotFound:
		return ExitNotFound
	case connect.CodeInvalidArgument, connect.CodeOutOfRange, connect.CodeFailedPrecondition:
		return ExitUsage
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return ExitDenied
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return ExitUnavailable
	}
	return ExitError
}

// errUsage marks an error in what the user gave a command.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, `distcache is the distcache node and its command line client.

  distcache [node flags]           run a node (distcache -h lists the flags)
  distcache COMMAND [flags] ARGS   call a running node

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %-15s %s\n", n, commands[n].usage, commands[n].help)
	}
	fmt.Fprint(w, `
Every command takes --addr (DISTCACHE_ADDR, default 127.0.0.1:8080), -g/--group
(default "default"), --token, --admin-token, -o text|json, --protocol and
--timeout; "distcache COMMAND -h" lists a command's flags. Exit codes: 0 done,
1 not found, 2 bad usage or input, 3 credentials refused, 4 no node answered
in time (try again), 5 any other error.
`)
}

func commandUsage(w io.Writer, name string, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: distcache %s [flags] %s\n  %s\n\nflags:\n", name, cmd.usage, cmd.help)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
