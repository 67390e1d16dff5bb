package main

import (
	"context"
	"io"

	"github.com/monologue-go/monologue"
)

// runPublish publishes a payload to a channel.
func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("publish", "CHANNEL PAYLOAD",
		"Publish PAYLOAD to every subscriber of CHANNEL. PAYLOAD is read as JSON, or\n"+
			"else as a string.", stderr)
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
	return deliver(ctx, c, errs, func() error { return c.Publish(ctx, rest[0], parseValue(rest[1])) })
}
