package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/monologue-go/monologue/bench"
	"github.com/monologue-go/monologue/bench/peers"
)

// peerCommand is the hidden subcommand the harness starts its Go peers'
// servers with: "monologue-bench peer NAME --api-key KEY", and for a node of
// a NATS cluster "--cluster-listen HOST:PORT --cluster-peers HOST:PORT,…".
const peerCommand = "peer"

// peerCommandOf returns the harness's PeerCommand: executable (this binary)
// run as peer name's server.
func peerCommandOf(executable string) func(name, apiKey string) *exec.Cmd {
	return func(name, apiKey string) *exec.Cmd {
		return exec.Command(executable, peerCommand, name, "--api-key", apiKey)
	}
}

// runPeer runs one peer's server until stdin ends: the harness's child.
func runPeer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("monologue-bench "+peerCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiKey := fs.String("api-key", "", "the API key monologue clients present")
	listen := fs.String("cluster-listen", "", "nats: HOST:PORT of a route listener, making the server one node of a cluster")
	clusterPeers := fs.String("cluster-peers", "", "nats: the other nodes' route listeners, HOST:PORT,…")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: monologue-bench %s NAME [flags]   (NAME: %s)\n\nRun a benchmark peer's server for the harness: prints one JSON line, serves until stdin ends.\n\nflags:\n", peerCommand, strings.Join(peers.Names(), ", "))
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return exitError(2)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError(2)
	}
	// peers.Run's errors name the peer already.
	return peers.Run(ctx, args[0], &peers.Options{
		APIKey:        *apiKey,
		Stdin:         os.Stdin,
		ClusterListen: *listen,
		ClusterPeers:  bench.ParseList(*clusterPeers),
	}, stdout)
}
