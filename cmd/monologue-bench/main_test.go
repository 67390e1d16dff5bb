package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// envAsCommand, when set, makes the test binary run as monologue-bench
// itself: the harness under test starts its peers' servers by re-executing
// its own executable, which in a test is this binary.
const envAsCommand = "MONOLOGUE_BENCH_TEST_AS_COMMAND"

// TestMain runs the test binary as the command when envAsCommand is set,
// and checks for leaked goroutines otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(envAsCommand) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
