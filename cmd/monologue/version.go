package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// runVersion prints the version of the binary: the module version it was
// built from (a release tag when installed with go install …@VERSION,
// "(devel)" when built from a clone), the commit when the build knows it,
// and the Go version and platform.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintf(stderr, "version takes no arguments (got %q)\n", args)
		return exitError(2)
	}
	fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	return nil
}

func versionLine(info *debug.BuildInfo, ok bool) string {
	version := "(unknown)"
	var details []string
	if ok {
		version = info.Main.Version
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			commit := "commit " + rev[:min(len(rev), 12)]
			if settings["vcs.modified"] == "true" {
				commit += " with local changes"
			}
			details = append(details, commit)
		}
		if at := settings["vcs.time"]; at != "" {
			details = append(details, at)
		}
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return "monologue " + version + " (" + strings.Join(details, ", ") + ")"
}
