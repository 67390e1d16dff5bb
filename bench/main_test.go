package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/monologue-go/monologue/bench/peers"
	"go.uber.org/goleak"
)

// Environment of a test binary started as a peer's server.
const (
	envPeer   = "MONOLOGUE_BENCH_TEST_PEER"
	envAPIKey = "MONOLOGUE_BENCH_TEST_API_KEY"
)

// TestMain runs the test binary as a peer's server when envPeer is set
// (that is how the tests start Go peers as child processes), and checks
// for leaked goroutines otherwise.
func TestMain(m *testing.M) {
	if name := os.Getenv(envPeer); name != "" {
		// The harness appends the peer's flags (a nats node's routes) to
		// testPeerCommand's.
		fs := flag.NewFlagSet("peer", flag.ExitOnError)
		fs.String("test.run", "", "")
		listen := fs.String("cluster-listen", "", "")
		clusterPeers := fs.String("cluster-peers", "", "")
		_ = fs.Parse(os.Args[1:])
		err := peers.Run(context.Background(), name, &peers.Options{
			APIKey:        os.Getenv(envAPIKey),
			Stdin:         os.Stdin,
			ClusterListen: *listen,
			ClusterPeers:  ParseList(*clusterPeers),
		}, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// testPeerCommand starts this test binary as peer name's server.
func testPeerCommand(name, apiKey string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// A race-enabled binary sleeps 1 s at exit unless told not to.
	cmd.Env = append(os.Environ(), envPeer+"="+name, envAPIKey+"="+apiKey, "GORACE=atexit_sleep_ms=0")
	return cmd
}
