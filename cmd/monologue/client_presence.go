package main

import (
	"context"
	"io"
	"strings"

	"github.com/monologue-go/monologue"
)

// runPresence prints who is in a channel, or holds a name (@NAME), as one
// JSON line {"count":K,"members":[ID,…]}.
func runPresence(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("presence", "CHANNEL|@NAME",
		"Print the members of CHANNEL, or the holders of NAME, on every node, as one JSON\n"+
			"line {\"count\":K,\"members\":[ID,…]} (at most 1,000 members are listed).", stderr)
	rest, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := cf.dial(ctx, monologue.Options{}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	var p monologue.Presence
	if name, ok := strings.CutPrefix(rest[0], "@"); ok {
		p, err = c.Holders(ctx, name)
	} else {
		p, err = c.Presence(ctx, rest[0])
	}
	if err != nil {
		return err
	}
	if p.Members == nil {
		p.Members = []string{}
	}
	(&lineWriter{w: stdout}).write(p)
	return nil
}
