package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/monologue-go/monologue"
)

// runListen prints the client's ID, then every message it receives as one
// JSON line, and answers the RPC method echo, until ctx ends.
//
// Lines:
//
//	ID                                          first line, plain text (with --name, claimed already)
//	{"from":ID,"payload":P}                     a direct message
//	{"payload":P}                               a frame from the gateway (POST @connections)
//	{"from":ID,"method":M,"args":[…]}           a call (echo is answered; others get not_found)
//	{"reconnected":ID}                          the gateway closed the connection; new ID
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer trimPrefix(&err)
	fs, cf := newClientFlagSet("listen", "",
		"Print own connection ID, then every incoming message and call as one JSON line.\n"+
			"With --name, peers reach it at @NAME too.\n"+
			"Answers the method echo: with one argument it returns that argument, with\n"+
			"several the array of them, with none null. Runs until interrupted.", stderr)
	name := fs.String("name", "", "claim this name, so that peers reach this listener at @NAME (several listeners with one name share its calls)")
	exclusive := fs.Bool("exclusive", false, "claim --name exclusively: take it from every other holder")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	out := &lineWriter{w: stdout}
	printCall := func(req *monologue.Request) {
		args := req.Args
		if args == nil {
			args = []json.RawMessage{}
		}
		out.write(struct {
			From   string            `json:"from"`
			Method string            `json:"method"`
			Args   []json.RawMessage `json:"args"`
		}{req.From, req.Method, args})
	}
	c, err := cf.dial(ctx, monologue.Options{
		Name:          *name,
		NameExclusive: *exclusive,
		Reconnect:     true,
		OnReconnect: func(id string) {
			out.write(map[string]string{"reconnected": id})
		},
		OnMessage: func(m monologue.Message) { out.write(newMessageLine(m)) },
		Fallback: func(_ context.Context, req *monologue.Request) (any, error) {
			printCall(req)
			return nil, monologue.ErrNotFound
		},
	}, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
		printCall(req)
		return echo(req.Args), nil
	}); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, c.ID()); err != nil {
		return err
	}
	return waitDone(ctx, c)
}

// echo returns its arguments: one argument as itself, several as an array,
// none as null.
func echo(args []json.RawMessage) any {
	switch len(args) {
	case 0:
		return nil
	case 1:
		return args[0]
	}
	return args
}
