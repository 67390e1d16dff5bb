package main

import (
	"context"
	"errors"
	"io"
)

// runSend is being written; this placeholder keeps the command table compiling.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
