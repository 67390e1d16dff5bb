// Command monologue runs the monologue gateway (serve) and talks to one from
// a shell (listen, call, send, publish, subscribe). The benchmark is a
// command of its own, cmd/monologue-bench, so that this one links none of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the gateway (WebSocket relay, @connections API, metrics)", runServe},
		"listen":    {"print own ID and incoming messages as JSON lines; answer RPC echo", runListen},
		"call":      {"call METHOD on peer ID: call ID METHOD [JSON args…]", runCall},
		"send":      {"send a direct message: send ID PAYLOAD", runSend},
		"publish":   {"publish to a channel: publish CHANNEL PAYLOAD", runPublish},
		"subscribe": {"print a channel's messages as JSON lines: subscribe CHANNEL", runSubscribe},
		"presence":  {"print who is in a channel or holds a name: presence CHANNEL|@NAME", runPresence},
		"version":   {"print the version of this binary", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: monologue COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'monologue COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" {
		args[0] = "version"
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "monologue: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "monologue %s: %v\n", args[0], err)
		var exit exitError
		if errors.As(err, &exit) {
			return int(exit)
		}
		return 1
	}
	return 0
}

// exitError is an error that asks for a particular exit status (2 for usage).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
