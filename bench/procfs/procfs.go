// Package procfs reads what the benchmark harness needs from Linux /proc: a
// process's CPU time (utime + stime) and resident memory, the machine's load
// average and per-core busy time, and pins the calling process to a core.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ClockTick is the unit of the CPU times in /proc (USER_HZ). Linux fixes it
// at 100 Hz for every user-space interface, whatever the kernel's HZ.
const ClockTick = 10 * time.Millisecond

// ErrNoProc is returned on systems without a Linux /proc.
var ErrNoProc = errors.New("procfs: /proc not available")

// CPUTime returns the CPU time (user + system, every thread) used so far by
// process pid, with a resolution of ClockTick.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')'.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("read CPU time of %d: malformed stat", pid)
	}
	fields := strings.Fields(string(b[end+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("read CPU time of %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read CPU time of %d: %w", pid, err)
	}
	return time.Duration(utime+stime) * ClockTick, nil
}

// SelfCPUTime returns the CPU time used so far by the calling process, with
// microsecond resolution.
func SelfCPUTime() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read own CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// RSS returns the resident set size of process pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS of %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read RSS of %d: %w", pid, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("read RSS of %d: no VmRSS line", pid)
}

// LoadAvg returns the 1-, 5- and 15-minute load averages.
func LoadAvg() ([3]float64, error) {
	var avg [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return avg, fmt.Errorf("read load average: %w", errors.Join(ErrNoProc, err))
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return avg, errors.New("read load average: malformed /proc/loadavg")
	}
	for i := range avg {
		if avg[i], err = strconv.ParseFloat(fields[i], 64); err != nil {
			return avg, fmt.Errorf("read load average: %w", err)
		}
	}
	return avg, nil
}

// CoreTimes is a snapshot of /proc/stat: busy and total jiffies per core.
type CoreTimes struct {
	Busy, Total []uint64
}

// ReadCoreTimes reads the per-core lines ("cpu0", "cpu1", …) of /proc/stat.
func ReadCoreTimes() (CoreTimes, error) {
	var ct CoreTimes
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ct, fmt.Errorf("read core times: %w", errors.Join(ErrNoProc, err))
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "cpu ") {
			continue
		}
		fields := strings.Fields(line)
		var busy, total uint64
		for i, f := range fields[1:] {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return ct, fmt.Errorf("read core times: %w", err)
			}
			total += v
			if i != 3 && i != 4 { // idle and iowait
				busy += v
			}
		}
		ct.Busy = append(ct.Busy, busy)
		ct.Total = append(ct.Total, total)
	}
	return ct, nil
}

// BusyFractions returns, per core, the fraction of time it was busy between
// the snapshots before and after.
func BusyFractions(before, after CoreTimes) []float64 {
	n := min(len(before.Total), len(after.Total))
	out := make([]float64, n)
	for i := range out {
		total := after.Total[i] - before.Total[i]
		if total > 0 {
			out[i] = float64(after.Busy[i]-before.Busy[i]) / float64(total)
		}
	}
	return out
}

// HaveTaskset reports whether the taskset command is on PATH.
func HaveTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// PinSelf restricts every thread of the calling process to the given core
// (threads created later inherit it) and sets GOMAXPROCS to 1. It returns
// the GOMAXPROCS value to restore.
func PinSelf(core int) (previous int, err error) {
	var set unix.CPUSet
	set.Set(core)
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("pin to core %d: %w", core, ErrNoProc)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(filepath.Base(task))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("pin thread %d to core %d: %w", tid, core, err)
		}
	}
	return runtime.GOMAXPROCS(1), nil
}

// Unpin lets every thread of the calling process run on all the given number
// of cores again and restores GOMAXPROCS.
func Unpin(cores, gomaxprocs int) error {
	var set unix.CPUSet
	for c := range cores {
		set.Set(c)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*")
	for _, task := range tasks {
		tid, err := strconv.Atoi(filepath.Base(task))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("unpin thread %d: %w", tid, err)
		}
	}
	if gomaxprocs > 0 {
		runtime.GOMAXPROCS(gomaxprocs)
	}
	return nil
}
