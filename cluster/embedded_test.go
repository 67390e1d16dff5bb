package cluster_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/monologue-go/monologue/cluster"
)

// TestEmbeddedRoutePortTaken: a route listener whose port another process
// holds is an error at once, which says so, rather than a server that never
// becomes ready.
func TestEmbeddedRoutePortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	started := time.Now()
	e, err := cluster.StartEmbedded(cluster.EmbeddedOptions{Listen: l.Addr().String()})
	if err == nil {
		e.Shutdown()
		t.Fatal("started on a port that is taken")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v: want address in use", err)
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("the error took %v", took)
	}
}
