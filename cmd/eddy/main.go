// Command eddy bundles the runtime's own tools behind one binary: "eddy bench" compares eddy's engines
// with package net and net/http on the echo and HTTP plaintext cases, running every server and load
// generator as a child process of itself, pinned to CPUs where it can, and prints a table of ratios;
// "eddy echo" serves an echo server on an eddy engine (or, with --baseline, on a goroutine per connection
// with package net, the peer it is measured against); "eddy hello" serves "Hello, World!" over HTTP/1.1 on
// eddy's http1 (or, with --baseline, on net/http); "eddy serve" serves the files of a directory over
// HTTP/1.1 (http.FileServer on http1, file bodies sent with sendfile where the engine has it); and "eddy
// load" is a load generator built on eddy itself: a dial-only engine opens the connections and its loops
// drive them from callbacks, with no goroutine per connection. It speaks echo (every byte verified) and
// HTTP/1.1 (keep-alive, pipelining, every status checked), closed-loop or at a fixed rate (open loop,
// latency measured from each request's scheduled time, and the requests due but never sent reported as
// unsent), and reports throughput and latency percentiles from HDR histograms, and the requests left
// unanswered; it fails on any error, counting a request
// unanswered for longer than --timeout as one, and on a run that completed no round trip. "eddy get"
// downloads a URL with parallel ranged requests and writes the file through package aio. Run "eddy
// help" for the list of commands and "eddy help <command>" for the flags of one. Each server stops
// gracefully on SIGINT or SIGTERM (or SIGHUP, unless it was ignored from the start), and at once on a
// second one; a graceful stop waits for peers still reading their output at most 10s (echo, serve) or
// 5s (hello), then closes the connections left, logs it and exits 0.
//
//	eddy bench
//	eddy echo --addr tcp://127.0.0.1:9000 --engine epoll --loops 1
//	eddy serve --dir ./public --addr 127.0.0.1:8080
//	eddy load --addr 127.0.0.1:9000 --conns 100 --size 64 --duration 10s
//	eddy load --url http://127.0.0.1:8080/ --conns 100 --pipeline 4 --requests 1000000
//	eddy load --url http://127.0.0.1:8080/ --conns 50 --rate 20000 --duration 30s
//	eddy get --conns 4 --chunk 4MiB http://127.0.0.1:8080/big.iso
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes: success, a failure while running, and a command line that could not be understood.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand of eddy.
type command struct {
	name    string
	summary string // one line, for the command list
	usage   string // the synopsis, with every flag
	notes   string // what "eddy help <command>" says after the summary, before the flags; may be empty
	// flags returns the command's flag set bound to a fresh configuration, and the function that runs the
	// command with that configuration once the flags are parsed.
	flags func() (*flag.FlagSet, func(ctx context.Context, stdout, stderr io.Writer) error)
	// args is set for a command that takes arguments after its flags: its run function reads and
	// checks fs.Args() itself.
	args bool
}

// commands lists the subcommands in the order "eddy help" shows them.
var commands = []command{benchCommand, echoCommand, helloCommand, serveCommand, loadCommand, getCommand}

// usageError is a command line that could not be understood; it makes eddy exit with exitUsage.
type usageError struct {
	msg  string
	help string // the help topic to point to: a command name, or "" for the command list
}

// Error returns the message, without the pointer to help.
func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError that points to "eddy help topic".
func usagef(topic, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), help: topic}
}

// baselineRefuses returns a usage error of command cmd when --baseline was given with one of the
// flags in names, set explicitly on fs: they configure eddy's server, which the baseline replaces, and
// were silently ignored.
func baselineRefuses(fs *flag.FlagSet, baseline bool, cmd string, names ...string) error {
	if !baseline {
		return nil
	}
	if set := flagsGiven(fs, names...); len(set) > 0 {
		return usagef(cmd, "%s: --baseline serves on package net, not on an eddy engine", strings.Join(set, ", "))
	}
	return nil
}

// flagsGiven returns the flags among names that the command line of fs set (flag.Visit: given, even
// to their default value, rather than left at it), as "--name", in lexical order.
func flagsGiven(fs *flag.FlagSet, names ...string) []string {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			set = append(set, "--"+f.Name)
		}
	})
	return set
}

// warnLoopsOnStd is the warning of a server command (echo, hello, serve) given --loops that runs on the
// std engine: that engine serves each connection on goroutines of its own, so the loop count does not
// make it serve on more cores or fewer. It is a warning, not a usage error, because a script that
// compares the engines passes the same --loops to each (eddy bench did, as scripts/ab-echo.sh and
// bench/http/wrkab.sh do), and --engine auto is std on systems without epoll.
func warnLoopsOnStd(stderr io.Writer, cmd string, loops int) {
	fmt.Fprintf(stderr, "eddy %s: warning: --loops %d does not apply to engine std, which serves each connection on goroutines of its own\n", cmd, loops)
}

// main runs the command line under a context that the first SIGINT, SIGTERM or SIGHUP (stopSignals)
// cancels; a second one ends the process at once.
func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals()...)
	go func() {
		<-sigs
		cancel() // the command stops gracefully
		s := <-sigs
		// A second signal ends a stop that takes too long. The process exits by itself, with the
		// status a shell gives a process killed by the signal: restoring the signal's default action
		// (as it used to) restores an inherited "ignore" too, and a server started with SIGINT
		// ignored (a background job of a script) stopped on the first SIGINT and ignored the second.
		fmt.Fprintf(os.Stderr, "eddy: %v again: exiting without waiting for the stop\n", s)
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(code)
}

// run executes the command line args (without the program name) and returns the process exit code.
// Errors are printed to stderr as "eddy: ...".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "eddy: %s\n", err)
		fmt.Fprintf(stderr, "Run '%s' for usage.\n", strings.TrimSpace("eddy help "+ue.help))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "eddy: %s\n", withoutEddyPrefixes(err.Error()))
		return exitFail
	}
}

// withoutEddyPrefixes removes the "eddy: " that starts the engine's errors, and the sentinels they wrap,
// from msg, so that run says it once: where it begins msg or one of the parts that wrapping joins with
// ": ". Elsewhere it is left alone: "/src/eddy: not a directory" names a path.
func withoutEddyPrefixes(msg string) string {
	const prefix = "eddy: "
	var b strings.Builder
	for {
		msg = strings.TrimPrefix(msg, prefix)
		i := strings.Index(msg, ": ")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+2])
		msg = msg[i+2:]
	}
}

// dispatch finds the command named by args[0], parses its flags and runs it.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usagef("", "no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(rest, stdout)
	}
	cmd, ok := lookup(name)
	if !ok {
		return usagef("", "unknown command %q", name)
	}
	fs, runCmd := cmd.flags()
	// Parse quietly: a bad flag is reported once, by run, as "eddy: <command>: ...".
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, cmd, fs)
			return nil
		}
		return usagef(name, "%s: %v", name, err)
	}
	if fs.NArg() > 0 && !cmd.args {
		return usagef(name, "%s: unexpected argument %q", name, fs.Arg(0))
	}
	if err := runCmd(ctx, stdout, stderr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// lookup returns the command called name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// help prints the command list, or the usage of the command named in args: "eddy help help" is the
// command list too.
func help(args []string, w io.Writer) error {
	if len(args) == 0 || args[0] == "help" {
		printUsage(w)
		return nil
	}
	cmd, ok := lookup(args[0])
	if !ok {
		return usagef("", "help: unknown command %q", args[0])
	}
	fs, _ := cmd.flags()
	printCommandUsage(w, cmd, fs)
	return nil
}

// printUsage prints the synopsis and the list of commands.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "eddy is the command-line tool of the eddy asynchronous I/O runtime.\n\n")
	fmt.Fprint(w, "Usage:\n\n\teddy <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'eddy help <command>' for the flags of a command.\n")
}

// printCommandUsage prints the synopsis of cmd, its summary, its notes and its flags.
func printCommandUsage(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n\n", cmd.usage, cmd.summary)
	if cmd.notes != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.notes)
	}
	fmt.Fprint(w, "Flags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
