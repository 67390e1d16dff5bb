package main

import (
	"context"
	"io"

	"github.com/monologue-go/monologue"
)

// runSend sends a direct message to a peer.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("send", "ID PAYLOAD",
		"Send PAYLOAD to the peer with connection ID ID. PAYLOAD is read as JSON, or\n"+
			"else as a string. Fails when the gateway reports an error (a gone peer).", stderr)
	rest, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	errs := &sendErrors{}
	c, err := cf.dial(ctx, monologue.Options{OnError: errs.add}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	return deliver(ctx, c, errs, func() error { return c.Send(ctx, rest[0], parseValue(rest[1])) })
}
