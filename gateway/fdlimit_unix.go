//go:build unix

package gateway

import "syscall"

// defaultMaxConnections is what the process's file limit allows, less a
// reserve for the listeners, the management API and metrics scrapes, the
// integration's own clients and log files, so that those keep working when
// the WebSocket connections reach the cap.
func defaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return fallbackMaxConnections
	}
	files := int(min(lim.Cur, 1<<24))
	return max(1, files-max(fileReserve, files/50))
}
