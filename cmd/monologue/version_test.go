package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr strings.Builder
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		if out := stdout.String(); !strings.HasPrefix(out, "monologue ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v printed %q", args, out)
		}
	}
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
	}}
	if got := versionLine(info, true); !strings.HasPrefix(got, "monologue v1.2.3 (commit 0123456789ab with local changes, 2026-12-01T10:00:00Z, go") {
		t.Errorf("versionLine: %q", got)
	}
}
