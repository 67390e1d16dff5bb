package main

import (
	"context"
	"errors"
	"io"
)

// runListen is being written; this placeholder keeps the command table compiling.
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
