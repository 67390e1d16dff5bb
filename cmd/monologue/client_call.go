package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/monologue-go/monologue"
)

// runCall calls a peer's method and prints its return value as JSON.
func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("call", "ID METHOD [ARG…]",
		"Call METHOD on the peer with connection ID ID (or on one holder of @NAME) and\nprint the result as JSON.\n"+
			"Each ARG is JSON: 42 and true are a number and a boolean, '\"42\"' and\n"+
			"'\"hello\"' are strings, '{\"a\":1}' an object; text that is not JSON is an\n"+
			"error, unless --string sends every ARG as the text it is.", stderr)
	asString := stringFlag(fs)
	rest, err := parseArgs(fs, args, 2, -1)
	if err != nil {
		return err
	}
	callArgs := make([]any, 0, len(rest)-2)
	for i, arg := range rest[2:] {
		v, err := parseValue(arg, fmt.Sprintf("argument %d", i+1), *asString)
		if err != nil {
			return err
		}
		callArgs = append(callArgs, v)
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
