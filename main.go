// Command folio keeps a portfolio's Contentful content (a CV and a blog)
// pre-serialised in memory, regenerates it when Contentful's webhook says it
// changed, and serves it instantly. See README.md.
//
// This file dispatches the commands; serve.go only wires: it reads the
// configuration, builds the parts and runs them. The request path of GET /cv
// starts at handlers.NewRouter.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/folio-cms/folio/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "folio:", ue.msg)
		fmt.Fprintln(stderr, "Run 'folio --help' for usage.")
		return 2
	default:
		fmt.Fprintln(stderr, "folio:", err)
		return 1
	}
}

const usage = `folio serves a portfolio's Contentful CV and blog from memory.

Usage:
  folio [serve]                 run the server (demo mode without CONTENTFUL_SPACE_ID)
  folio webhook send [flags]    send a signed, Contentful-shaped webhook to a running folio
  folio healthcheck [--url URL] exit 0 when the server answers healthy
  folio refresh [flags]         force a full refresh of a running folio (every replica)
  folio version                 print the version, commit and Go version

Configuration is read from the environment; see README.md.
`

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		fs := newFlags("serve", stderr, "Usage: folio [serve]\n\nRuns the server. Settings come from the environment (README.md).\n")
		if len(args) > 0 && args[0] != "serve" {
			fs.Usage = func() { fmt.Fprint(stderr, usage) }
		}
		if err := parse(fs, rest); err != nil {
			return err
		}
		return serve(ctx, env, stdout, stderr)
	case "version":
		fs := newFlags("version", stderr, "Usage: folio version\n\nPrints the version, commit and Go version.\n")
		if err := parse(fs, rest); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "folio %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
		return nil
	case "healthcheck":
		fs := newFlags("healthcheck", stderr, "Usage: folio healthcheck [--url URL]\n\nExits 0 when the server answers healthy, 1 otherwise.\n")
		target := fs.String("url", "", "health URL (default: /healthz on FOLIO_ADDR's host and port, localhost when it names no host)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		return healthcheck(ctx, *target, env, stdout)
	case "refresh":
		return adminRefresh(ctx, rest, env, stdout, stderr)
	case "webhook":
		if len(rest) == 0 || rest[0] != "send" {
			if len(rest) > 0 && (rest[0] == "--help" || rest[0] == "-h") {
				fmt.Fprint(stdout, webhookUsage)
				return nil
			}
			return usageError{"webhook: the only subcommand is 'send' (folio webhook send --help)"}
		}
		return webhookSend(ctx, rest[1:], env, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func newFlags(name string, stderr io.Writer, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages are dropped: parse reports errors once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stderr, text)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags; -h and --help print the usage (flag calls Usage) and
// end the command with exit 0.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err.Error()}
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
