// Command monologue-bench measures the monologue gateway against peers (NATS
// over WebSocket, Socket.IO and a floor relay), each server in a child
// process, on loopback; see bench/README.md.
//
// It is a command of its own, apart from the monologue CLI, so that the
// product does not link the benchmark's peers (an embedded nats-server, a
// Socket.IO driver, gorilla/websocket) or its plotting. The children it
// starts are this same binary, run as "monologue-bench peer NAME": a hidden
// subcommand that serves one peer until its stdin ends. Runs on several
// nodes (--nodes, --preset cluster) start the monologue command's serve
// instead for monologue (--monologue-bin, or built from the repository),
// and redis-server for Socket.IO.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name, command := "monologue-bench", runBench
	if len(args) > 0 && args[0] == peerCommand {
		name, command, args = "monologue-bench "+peerCommand, runPeer, args[1:]
	}
	if len(args) > 0 && args[0] == awsFanoutCommand {
		name, command, args = "monologue-bench "+awsFanoutCommand, runAWSFanout, args[1:]
	}
	if err := command(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
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
