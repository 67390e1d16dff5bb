// Package poll waits in tests for a condition that becomes true by itself:
// it asks again every 20 ms until it holds or a deadline passes, instead of
// sleeping for a guessed time.
package poll

import (
	"testing"
	"time"
)

// Interval is how long Until waits between two tries.
const Interval = 20 * time.Millisecond

// Until calls fn until it returns "" (done) or timeout passes, and then
// fails t with fn's last answer (why it is not done yet).
func Until(t testing.TB, timeout time.Duration, fn func() (notYet string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := fn()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not done after %v: %s", timeout, why)
		}
		time.Sleep(Interval)
	}
}
