package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// writeCounter counts a connection's writes after the handshake, and
// checks that each holds exactly one whole WebSocket frame.
type writeCounter struct {
	net.Conn
	mu       sync.Mutex
	counting bool
	writes   int
	bad      []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.counting {
		w.writes++
		if n, ok := frameLen(p); !ok || n != len(p) {
			w.bad = append(w.bad, fmt.Sprintf("a write of %d bytes holding a frame of %d", len(p), n))
		}
	}
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// frameLen returns the length of the masked client frame that p begins with.
func frameLen(p []byte) (int, bool) {
	if len(p) < 2 {
		return 0, false
	}
	n, head := int(p[1]&0x7f), 2
	switch n {
	case 126:
		if len(p) < 4 {
			return 0, false
		}
		n, head = int(p[2])<<8|int(p[3]), 4
	case 127:
		if len(p) < 10 {
			return 0, false
		}
		n = 0
		for _, b := range p[2:10] {
			n = n<<8 | int(b)
		}
		head = 10
	}
	if p[1]&0x80 != 0 {
		head += 4
	}
	return head + n, true
}

// TestPlainDriverWritesEachFrameAlone: the plain driver's callers write
// every call in a write of its own, whole, even with many calls in flight
// at once and at 4 KiB; the batching Go client would merge them.
func TestPlainDriverWritesEachFrameAlone(t *testing.T) {
	ctx, srv := startTestPeer(t, "monologue+plain")
	var conns []*writeCounter
	var mu sync.Mutex
	d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "k"}, wrap: func(c net.Conn) net.Conn {
		w := &writeCounter{Conn: c}
		mu.Lock()
		conns = append(conns, w)
		mu.Unlock()
		return w
	}}
	to, closeCallee, err := d.callee(ctx, func(s string) string { return s })
	if err != nil {
		t.Fatal(err)
	}
	defer closeCallee()
	c, err := d.caller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	mu.Lock()
	for _, w := range conns {
		w.mu.Lock()
		w.counting = true
		w.mu.Unlock()
	}
	mu.Unlock()
	const calls = 40
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			arg := fmt.Sprintf("%d:%0*d", i, 64+i%2*4032, 0)
			got, err := c.call(ctx, to, arg)
			if err == nil && got != arg {
				err = fmt.Errorf("call %d answered %.40q", i, got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, w := range conns {
		w.mu.Lock()
		total += w.writes
		for _, b := range w.bad {
			t.Error(b)
		}
		w.mu.Unlock()
	}
	// Each call is one frame from the caller and one answer from the callee.
	if total != 2*calls {
		t.Errorf("%d writes for %d calls, want %d: one per frame", total, calls, 2*calls)
	}
}

// startTestPeer starts peer's server with API key "k" for the test, and
// returns it with a context that ends after a minute; both end with the
// test (stopping a server twice is harmless).
func startTestPeer(t *testing.T, peer string) (context.Context, *server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	srv, err := startServer(ctx, peer, "k", testOptions(peer).withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return ctx, srv
}
