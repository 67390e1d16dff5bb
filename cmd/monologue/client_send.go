package main

import (
	"context"
	"io"

	"github.com/monologue-go/monologue"
)

// runSend sends a direct message to a peer.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runDeliver(ctx, args, stderr, "send", "ID PAYLOAD",
		"Send PAYLOAD to the peer with connection ID ID. PAYLOAD is JSON ('{\"a\":1}',\n"+
			"42, '\"hello\"'), or with --string the text it is. Fails when the gateway\n"+
			"reports an error (a gone peer).",
		(*monologue.Client).Send)
}

// runPublish publishes a payload to a channel.
func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runDeliver(ctx, args, stderr, "publish", "CHANNEL PAYLOAD",
		"Publish PAYLOAD to every subscriber of CHANNEL. PAYLOAD is JSON ('{\"a\":1}',\n"+
			"42, '\"hello\"'), or with --string the text it is.",
		(*monologue.Client).Publish)
}

// runDeliver is send and publish: dial, hand PAYLOAD to method with the
// target, and fail when the gateway reports an error about it.
func runDeliver(ctx context.Context, args []string, stderr io.Writer, name, usage, help string,
	method func(c *monologue.Client, ctx context.Context, target string, payload any) error) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet(name, usage, help, stderr)
	asString := stringFlag(fs)
	rest, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	payload, err := parseValue(rest[1], "PAYLOAD", *asString)
	if err != nil {
		return err
	}
	errs := &sendErrors{}
	c, err := cf.dial(ctx, monologue.Options{OnError: errs.add}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	return deliver(ctx, c, errs, func() error { return method(c, ctx, rest[0], payload) })
}
