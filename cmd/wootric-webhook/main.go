// Command wootric-webhook runs a Wootric webhook receiver on your machine,
// sends it signed deliveries of fresh sample events, forwards what it
// receives to your own app, saves and replays deliveries, and signs bodies
// for curl.
//
//	wootric-webhook listen [-addr 127.0.0.1:8080] [-path /wootric] [-forward URL] [-save DIR] [-json] [-raw]
//	wootric-webhook send -url URL [-event response.created] [-mode NPS] [-format json] [-id N] [-score N] [-comment TEXT]
//	wootric-webhook send -url URL -body FILE|-
//	wootric-webhook replay -url URL FILE|DIR...
//	wootric-webhook sign < body
//	wootric-webhook version
//
// The secret comes from -secret or the WOOTRIC_SECRET environment variable.
// listen makes one up when neither is set, and prints it.
//
// Help that is asked for ("help", "help COMMAND", "-h", "COMMAND -h") is
// printed on stdout and exits 0; a wrong command line prints a one-line
// error and the usage on stderr and exits 2. Other failures exit 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/wootric-go/wootric"
)

const usage = `Usage:
  wootric-webhook listen [-addr 127.0.0.1:8080] [-path /wootric] [-forward URL] [-save DIR] [-json] [-raw] [-secret S]
      Receive deliveries and print a line for every request: each delivery,
      each refusal and why, and requests to other paths. -forward re-signs
      each delivery and sends it on to your app; -save writes each to DIR.
  wootric-webhook send -url URL [-event response.created|response.updated|decline.created]
                       [-mode NPS|CES|CSAT] [-format json|form] [-id N] [-score N] [-comment TEXT] [-secret S]
  wootric-webhook send -url URL -body FILE|- [-format json|form] [-secret S]
      Sign and POST a fresh sample event (a new id, times of now), or a
      body from a file or stdin, and print the receiver's answer.
  wootric-webhook replay -url URL [-secret S] FILE|DIR...
      Re-sign and POST deliveries saved by listen -save.
  wootric-webhook sign [-secret S] < body
      Print the X-Wootric-Signature value for the body on stdin.
  wootric-webhook version
      Print the command's module version.

The secret is -secret or $WOOTRIC_SECRET; listen makes one up if neither is set.
Run "wootric-webhook help COMMAND" for a command's flags.
`

// exitUsage is the exit status for a missing or wrong command line.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// env is what a command gets from the process, so that tests can run it
// in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one of the command's commands. define defines its flags on
// fs and returns what runs once they are parsed; args is what follows the
// flags, for help ("" for nothing).
type command struct {
	define func(fs *flag.FlagSet) func(ctx context.Context, fs *flag.FlagSet, e env) int
	args   string
}

// commands is set in init, as the commands' usage errors name them.
var commands map[string]command

func init() {
	commands = map[string]command{
		"listen":  {define: listenCommand},
		"send":    {define: sendCommand},
		"replay":  {define: replayCommand, args: "FILE|DIR..."},
		"sign":    {define: signCommand, args: "< body"},
		"version": {define: func(*flag.FlagSet) func(context.Context, *flag.FlagSet, env) int { return version }},
	}
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := env{stdin, stdout, stderr, getenv}
	if len(args) == 0 {
		return usageError(stderr, "no command")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				return usageError(stderr, fmt.Sprintf("help: unknown command %q", args[1]))
			}
			fs := flag.NewFlagSet(args[1], flag.ContinueOnError)
			c.define(fs)
			printFlags(stdout, fs, c.args)
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		return usageError(stderr, fmt.Sprintf("unknown command %q", args[0]))
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCommand := c.define(fs)
	err := parseInterleaved(fs, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		printFlags(stdout, fs, c.args)
		return 0
	case err != nil:
		return usageError(stderr, fmt.Sprintf("%s: %v", fs.Name(), err))
	case c.args == "" && fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)))
	}
	return runCommand(ctx, fs, e)
}

// parseInterleaved parses args as fs.Parse does, but reads flags after
// the arguments too, as in "replay DIR -url URL": fs.Args() are then the
// arguments alone. After "--", everything is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if len(args) > fs.NArg() && args[len(args)-fs.NArg()-1] == "--" {
			rest = append(rest, fs.Args()...)
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, rest...))
}

// printFlags prints a command's usage line and flags.
func printFlags(w io.Writer, fs *flag.FlagSet, args string) {
	fmt.Fprintf(w, "Usage: wootric-webhook %s [flags] %s\n\nFlags:\n", fs.Name(), args)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError prints a one-line error, and where to read the usage of the
// command it names ("send: ..."), and returns exitUsage.
func usageError(stderr io.Writer, msg string) int {
	help := "wootric-webhook help"
	if name, _, ok := strings.Cut(msg, ":"); ok {
		if _, known := commands[name]; known {
			help += " " + name
		}
	}
	fmt.Fprintf(stderr, "wootric-webhook: %s\nrun '%s' for usage\n", msg, help)
	return exitUsage
}

// fail prints a one-line error for a failure that is not the command
// line's, and returns 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
	return 1
}

func secretFlag(fs *flag.FlagSet) *string {
	return fs.String("secret", "", "webhook secret (default $WOOTRIC_SECRET)")
}

// secretOf returns the -secret flag's value, or $WOOTRIC_SECRET.
func secretOf(flagValue string, e env) string {
	if flagValue != "" {
		return flagValue
	}
	return e.getenv("WOOTRIC_SECRET")
}

// noSecret is the usage error of a command that needs a secret and has
// none.
const noSecret = "no secret: pass -secret or set WOOTRIC_SECRET"

// isHTTPURL reports whether url is one the commands can send to: http or
// https.
func isHTTPURL(url string) bool {
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

// targetError returns why a command that signs and sends deliveries (send,
// replay) cannot send them to url with secret, or "" if it can.
func targetError(url, secret string) string {
	switch {
	case url == "":
		return "-url is required"
	case !isHTTPURL(url):
		return fmt.Sprintf("-url %q is not an http or https URL", url)
	case secret == "":
		return noSecret
	}
	return ""
}

// given reports whether the flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func signCommand(fs *flag.FlagSet) func(context.Context, *flag.FlagSet, env) int {
	secretFlag := secretFlag(fs)
	return func(_ context.Context, fs *flag.FlagSet, e env) int {
		if fs.NArg() > 0 {
			return usageError(e.stderr, fmt.Sprintf("sign: unexpected argument %q: the body comes on stdin", fs.Arg(0)))
		}
		secret := secretOf(*secretFlag, e)
		if secret == "" {
			return usageError(e.stderr, "sign: "+noSecret)
		}
		body, err := io.ReadAll(e.stdin)
		if err != nil {
			return fail(e.stderr, err)
		}
		fmt.Fprintln(e.stdout, wootric.Sign(secret, body))
		return 0
	}
}

// version prints the main module's version and, where the build recorded
// it, the commit: "wootric-webhook v0.3.0", or "(devel)" for a build from
// a clone.
func version(_ context.Context, _ *flag.FlagSet, e env) int {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(e.stdout, "wootric-webhook (unknown version)")
		return 0
	}
	line := "wootric-webhook " + info.Main.Version
	var parts []string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			parts = append(parts, s.Value[:min(12, len(s.Value))])
		case "vcs.modified":
			if s.Value == "true" {
				parts = append(parts, "modified")
			}
		}
	}
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(e.stdout, "%s %s\n", line, info.GoVersion)
	return 0
}
