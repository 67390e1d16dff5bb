package main

import (
	"context"
	"errors"
	"io"
)

// runSubscribe is being written; this placeholder keeps the command table compiling.
func runSubscribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
