package monologue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// A peer other than the one called must not be able to answer a call (or a
// Ping or Subscribe) by guessing its token: only the callee's reply counts.
func TestReplyFromAnotherPeerIgnored(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	caller := gw.dial(t, monologue.Options{})
	intruder := gw.dial(t, monologue.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	must(t, server.Handle("slow", func(context.Context, *monologue.Request) (any, error) {
		close(entered)
		<-release
		return "real", nil
	}))
	result := make(chan string, 1)
	errs := make(chan error, 1)
	go func() {
		var s string
		err := caller.Call(context.Background(), server.ID(), "slow", nil, &s)
		errs <- err
		result <- s
	}()
	receive(t, entered, "the handler to start")
	ctx := context.Background()
	// The caller's first operation has token 1; try a few more.
	for token := 1; token <= 5; token++ {
		must(t, intruder.Send(ctx, caller.ID(), json.RawMessage(fmt.Sprintf(
			`{"type":"ACK","data":{"token":%d,"ret":"spoofed"}}`, token))))
		must(t, intruder.Send(ctx, caller.ID(), json.RawMessage(fmt.Sprintf(
			`{"type":"ERR","data":{"token":"%d","error":{"code":"handler_error","message":"spoofed"}}}`, token))))
	}
	must(t, intruder.Ping(ctx))
	must(t, caller.Ping(ctx)) // the spoofed replies have been read
	close(release)
	if err := receive(t, errs, "the call"); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if s := <-result; s != "real" {
		t.Fatalf("Call returned %q, want the callee's %q", s, "real")
	}
}

// Close called from OnError (which runs on the connection's reader) must not
// deadlock.
func TestCloseFromOnError(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	var client atomic.Pointer[monologue.Client]
	closed := make(chan struct{})
	c := gw.dial(t, monologue.Options{OnError: func(error) {
		client.Load().Close()
		close(closed)
	}})
	client.Store(c)
	must(t, c.Send(context.Background(), "AAAAAAAAAAAAAAA=", "hello?"))
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close from OnError did not return")
	}
}
