// Package clustertest starts the NATS side of a cluster for a test: the
// embedded servers of several nodes routed together on loopback, or one
// NATS server that nodes join as an external one, each stopped when the
// test ends.
package clustertest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
)

// Embedded starts n embedded servers of cluster name on 127.0.0.1 (random
// route ports), each routed to the ones started before it, and returns
// once every one is routed to all the others.
func Embedded(tb testing.TB, name string, n int) []*cluster.Embedded {
	tb.Helper()
	var all []*cluster.Embedded
	var peers []string
	for range n {
		e, err := cluster.StartEmbedded(cluster.EmbeddedOptions{Name: name, Listen: "127.0.0.1:0", Peers: peers})
		if err != nil {
			tb.Fatalf("start embedded NATS: %v", err)
		}
		tb.Cleanup(e.Shutdown)
		all = append(all, e)
		peers = append(peers, e.RouteAddr().String())
	}
	WaitRouted(tb, all)
	return all
}

// WaitRouted waits until each server is routed to all the others.
func WaitRouted(tb testing.TB, all []*cluster.Embedded) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range all {
		for e.Routes() < len(all)-1 {
			if time.Now().After(deadline) {
				tb.Fatalf("embedded NATS servers not routed within 10 s (%d of %d routes)", e.Routes(), len(all)-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Connect connects to e in process with the options a node uses, and
// closes the connection when the test ends.
func Connect(tb testing.TB, e *cluster.Embedded) *nats.Conn {
	tb.Helper()
	nc, err := e.Connect(cluster.ClientOptions("test")...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// NATS is a standalone NATS server, as an external NATS is to the nodes.
type NATS struct {
	srv  *server.Server
	opts *server.Options
	// URL is the server's client URL, nats://127.0.0.1:P.
	URL string
}

// StartNATS starts a NATS server on 127.0.0.1 (random port).
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	n := &NATS{opts: &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true}}
	n.start(tb)
	n.URL = fmt.Sprintf("nats://%s", n.srv.Addr())
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port // restart on the same port
	tb.Cleanup(n.Stop)
	return n
}

func (n *NATS) start(tb testing.TB) {
	tb.Helper()
	srv, err := server.NewServer(n.opts)
	if err != nil {
		tb.Fatalf("start NATS: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS did not start within 10 s")
	}
	n.srv = srv
}

// Stop stops the server; clients see it go away.
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart starts the server again on the same port after Stop.
func (n *NATS) Restart(tb testing.TB) {
	tb.Helper()
	n.start(tb)
}

// Connect connects to the server with the options a node uses, and closes
// the connection when the test ends.
func (n *NATS) Connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(n.URL, cluster.ClientOptions("test")...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
