//go:build linux

package gateway

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// usableMemory is the memory this process may use, in bytes: the
// machine's, or its cgroup's limit (a container's) when that is lower; 0
// when it cannot be read.
func usableMemory() uint64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0
	}
	total := uint64(info.Totalram) * uint64(info.Unit)
	if limit := cgroupMemoryLimit(); limit > 0 && (total == 0 || limit < total) {
		total = limit
	}
	return total
}

// cgroupMemoryLimit is the memory limit of the process's cgroup: memory.max
// of its cgroup v2, else memory.limit_in_bytes of the cgroup v1 memory
// controller as mounted (in a container, the container's own). It is 0
// when there is none or it cannot be read.
func cgroupMemoryLimit() uint64 {
	if data, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if path, ok := strings.CutPrefix(line, "0::"); ok {
				if limit := readLimit("/sys/fs/cgroup" + strings.TrimSuffix(path, "/") + "/memory.max"); limit > 0 {
					return limit
				}
			}
		}
	}
	return readLimit("/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// readLimit reads a number of bytes from a cgroup file; 0 for "max" (no
// limit) or when it cannot be read.
func readLimit(file string) uint64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
