package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// shutdownGrace is the longest the WebSockets wait, at shutdown, for the
// public listener's requests in flight (a handshake, say) to finish before
// they are closed.
const shutdownGrace = time.Second

// shutdown stops the public server, the gateway and the admin server
// within timeout, whatever clients do. The public listener stops accepting
// at once, and its requests in flight get a moment to finish (at most
// shutdownGrace, a quarter of timeout when that is less), so that a
// handshake under way is not cut in half, but a slow request does not
// hold the WebSockets back. Then the gateway closes every WebSocket with
// 1001 while the admin server stays up, for an integration that posts to
// the management API as connections close, and then the admin server
// shuts down. HTTP requests still open when timeout runs out are a slow
// client's: they are cut off (the servers are closed), which is logged but
// is no failure. The error is the gateway's: connections it could not close
// in time, or an integration that failed to close.
func shutdown(timeout time.Duration, gw *gateway.Gateway, public, admin *http.Server, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	publicDone := make(chan error, 1)
	go func() { publicDone <- public.Shutdown(ctx) }()
	grace := time.NewTimer(min(shutdownGrace, timeout/4))
	var publicErr error
	select {
	case publicErr = <-publicDone:
		publicDone = nil
	case <-grace.C:
	}
	grace.Stop()

	err := gw.Shutdown(ctx)
	if publicDone != nil {
		publicErr = <-publicDone // bounded by ctx
	}
	adminErr := admin.Shutdown(ctx)
	if publicErr != nil || adminErr != nil {
		logger.Warn("shutdown: cutting off HTTP requests still open", "timeout", timeout)
	}
	_ = public.Close()
	_ = admin.Close()
	return err
}
