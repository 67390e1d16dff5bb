package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/monologue-go/monologue"
)

// runCall calls a peer's method and prints its return value as JSON.
func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("call", "ID METHOD [ARG…]",
		"Call METHOD on the peer with connection ID ID (or on one holder of @NAME) and\nprint the result as JSON.\n"+
			"Each ARG is read as JSON, or else as a string: 42 and true are a number and a\n"+
			"boolean, '\"42\"' is a string, hello is the string \"hello\".", stderr)
	rest, err := parseArgs(fs, args, 2, -1)
	if err != nil {
		return err
	}
	callArgs := make([]any, 0, len(rest)-2)
	for _, arg := range rest[2:] {
		callArgs = append(callArgs, parseValue(arg))
	}
	c, err := cf.dial(ctx, monologue.Options{}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	var result json.RawMessage
	if err := c.Call(ctx, rest[0], rest[1], callArgs, &result); err != nil {
		return err
	}
	out := &lineWriter{w: stdout}
	out.writeRaw(result)
	return nil
}
