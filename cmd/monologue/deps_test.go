package main

import (
	"os/exec"
	"strings"
	"testing"
)

// benchmarkOnly are import paths (each with everything under it) that only
// the benchmark, cmd/monologue-bench, may link: its harness and peers, the
// floor relay's WebSocket library and the plots' image code. (NATS is the
// product's own since cluster mode: its server runs embedded in each node.)
var benchmarkOnly = []string{
	"github.com/monologue-go/monologue/bench",
	"github.com/monologue-go/monologue/cluster/clustertest",
	"github.com/gorilla/websocket",
	"golang.org/x/image",
}

// TestNoBenchmarkDependencies fails when the monologue command (not its
// tests) depends on a package only the benchmark needs.
func TestNoBenchmarkDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, to list the dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, dep := range deps {
		for _, banned := range benchmarkOnly {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("monologue depends on %s, which only the benchmark may use", dep)
			}
		}
	}
}
