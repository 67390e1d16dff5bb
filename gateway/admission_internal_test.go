package gateway

import (
	"syscall"
	"testing"
)

// TestDefaultMaxConnectionsLeavesReserve: the default cap stays under the
// process's file limit by at least the reserve.
func TestDefaultMaxConnectionsLeavesReserve(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	got := defaultMaxConnections()
	if got <= 0 || uint64(got)+fileReserve > lim.Cur {
		t.Fatalf("default max connections %d with a file limit of %d: want a positive cap that leaves %d files", got, lim.Cur, fileReserve)
	}
	if o := (Options{}).withDefaults(); o.MaxConnections != got {
		t.Fatalf("Options{} has MaxConnections %d, want %d", o.MaxConnections, got)
	}
}
