package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsServeFlags: the README's table of serve's flags lists
// every flag serve --help does, so a new user finds each one there.
func TestREADMEListsServeFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "## Configuration and limits of `monologue serve`")
	if !ok {
		t.Fatal("README.md has no section on serve's configuration")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	for flag := range serveHelpFlags(t) {
		if !strings.Contains(table, "`--"+flag+"`") {
			t.Errorf("README.md's table of serve's flags lacks --%s", flag)
		}
	}
}
