package main

import (
	"context"
	"fmt"
	"io"

	"github.com/monologue-go/monologue"
)

// runSubscribe prints the messages of a channel as JSON lines
// {"channel":C,"from":ID,"payload":P} until ctx ends.
func runSubscribe(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("subscribe", "CHANNEL",
		"Subscribe to CHANNEL and print each of its messages as one JSON line\n"+
			"{\"channel\":C,\"from\":ID,\"payload\":P} until interrupted. Once subscribed, it\n"+
			"prints \"subscribed to CHANNEL as ID\" on standard error.", stderr)
	rest, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	out := &lineWriter{w: stdout}
	c, err := cf.dial(ctx, monologue.Options{
		Reconnect: true,
		OnMessage: func(m monologue.Message) { out.write(newMessageLine(m)) },
	}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Subscribe(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "subscribed to %s as %s\n", rest[0], c.ID())
	return waitDone(ctx, c)
}
