package gateway_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/monologue-go/monologue/gateway"
)

// pingFlood is n masked pings followed by a whoami text frame, the whole
// of it written at once.
func pingFlood(n int) [][]byte {
	frames := make([][]byte, 0, n+1)
	for range n {
		frames = append(frames, frame(opPing, true, true, []byte("p")))
	}
	return append(frames, frame(opText, true, true, []byte("whoami")))
}

// readPongs reads the pongs that come before the next text frame, which it
// returns.
func (c *rawConn) readPongs() (pongs int, text string) {
	c.t.Helper()
	for {
		op, payload := c.read()
		switch op {
		case opPong:
			if string(payload) != "p" {
				c.t.Fatalf("pong %q, want the ping's payload", payload)
			}
			pongs++
		case opText:
			return pongs, string(payload)
		default:
			c.t.Fatalf("frame %x %q, want pongs then a text frame", op, payload)
		}
	}
}

// TestPingFloodRateLimited: pings count in the message rate, so a flood of
// pings far over it gets far fewer pongs than pings; the text frame after
// them is over the rate too and is answered with rate_limited.
func TestPingFloodRateLimited(t *testing.T) {
	s := start(t, gateway.Options{MessageRate: 10})
	c := s.dialRaw(t)
	const pings = 200
	c.write(pingFlood(pings)...)
	pongs, text := c.readPongs()
	// A burst of 10 and 10 more a second: a few more than 10 pongs, not 200.
	if pongs == 0 || pongs > pings/4 {
		t.Errorf("%d pongs for %d pings at 10 per second, want about 10", pongs, pings)
	}
	if !strings.Contains(text, `"code":"rate_limited"`) {
		t.Errorf("whoami after the flood: %q, want rate_limited", text)
	}
	_, _, metrics := httpDo(t, "GET", s.admin+"/metrics", nil, "")
	dropped := grep(metrics, `monologue_queue_drops_total{reason="ping_rate_limited"}`)
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(dropped, `monologue_queue_drops_total{reason="ping_rate_limited"}`))); n != pings-pongs {
		t.Errorf("metric %q, want %d dropped pings", dropped, pings-pongs)
	}
}

// TestPongsBatched: the pongs of pings that arrive together are queued and
// leave together, rather than with one write system call each.
func TestPongsBatched(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dialRaw(t)
	const pings = 500
	flood := pingFlood(pings)
	before := writeSyscalls(t)
	c.write(flood...)
	pongs, text := c.readPongs()
	writes := writeSyscalls(t) - before
	t.Logf("%d write system calls", writes)
	if pongs != pings || len(text) != 16 {
		t.Fatalf("%d pongs then %q, want %d pongs then the ID", pongs, text, pings)
	}
	if writes >= pings/10 {
		t.Errorf("%d write system calls for %d pongs, want far fewer", writes, pings)
	}
}

// writeSyscalls is the number of write system calls this process has made
// (syscw in /proc/self/io): the pongs' writes, the client's one write, and
// whatever else the runtime writes meanwhile.
func writeSyscalls(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no syscw in /proc/self/io: %q", data)
	return 0
}
