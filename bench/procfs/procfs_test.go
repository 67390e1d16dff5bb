package procfs

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("the benchmark reads CPU time from /proc, which this system lacks: %v", err)
	}
	// Burn CPU until the tick counters move (at least one 10 ms tick of
	// this process's own time, however loaded the machine is), for at most
	// 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for x := 0; x < 1e6; x++ {
			_ = x * x
		}
		if cpu, _ := CPUTime(os.Getpid()); cpu > 0 {
			break
		}
	}
	cpu, err := CPUTime(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("CPUTime = %v, %v", cpu, err)
	}
	self, err := SelfCPUTime()
	if err != nil || self <= 0 {
		t.Fatalf("SelfCPUTime = %v, %v", self, err)
	}
	rss, err := RSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS = %d, %v", rss, err)
	}
	if _, err := LoadAvg(); err != nil {
		t.Fatal(err)
	}
	before, err := ReadCoreTimes()
	if err != nil || len(before.Total) == 0 {
		t.Fatalf("ReadCoreTimes = %v, %v", before, err)
	}
	time.Sleep(20 * time.Millisecond)
	after, _ := ReadCoreTimes()
	for _, f := range BusyFractions(before, after) {
		if f < 0 || f > 1 {
			t.Fatalf("busy fraction %v out of [0,1]", f)
		}
	}
}

func TestCPUTimeOfMissingProcess(t *testing.T) {
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
