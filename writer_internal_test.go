package monologue

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/testnet"
)

// startWriter runs a writer on the client end of a loopback TCP connection
// whose send buffer is small, so that it fills up quickly when the other
// end does not read; it returns the writer and the other end.
func startWriter(t *testing.T) (*writer, net.Conn) {
	t.Helper()
	netConn, peer := testnet.TCPPair(t, 4096)
	raw := rawsock.For(netConn)
	if raw == nil {
		t.Fatal("no raw socket for a TCP connection")
	}
	w := newWriter(netConn, raw, 0)
	go w.run()
	t.Cleanup(func() {
		w.fail(ErrClosed)
		_ = netConn.Close()
		<-w.done
	})
	return w, peer
}

// readClientFrames reads n masked client frames and returns their
// payloads, unmasked.
func readClientFrames(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Errorf("after %d frames: %v", len(out), err)
			return out
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Errorf("after %d frames: %v", len(out), err)
			return out
		}
		if !h.Masked || !h.Fin {
			t.Errorf("frame %d: header %+v", len(out), h)
		}
		ws.Cipher(p, h.Mask, 0)
		if h.OpCode == ws.OpClose {
			p = []byte("close")
		}
		out = append(out, string(p))
	}
	return out
}

// checkSenders checks that frames hold every n from 0 to perSender-1 of
// every sender, each sender's in order.
func checkSenders(t *testing.T, frames []string, senders, perSender int) {
	t.Helper()
	next := make([]int, senders)
	for i, f := range frames {
		var m struct{ S, N int }
		if err := json.Unmarshal([]byte(f), &m); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if m.S < 0 || m.S >= senders || m.N != next[m.S] {
			t.Fatalf("frame %d is sender %d's #%d, want #%d", i, m.S, m.N, next[m.S])
		}
		next[m.S]++
	}
	for s, n := range next {
		if n != perSender {
			t.Errorf("sender %d: %d frames, want %d", s, n, perSender)
		}
	}
}

// send writes perSender numbered frames from each of senders goroutines,
// padded to various sizes, and waits for them.
func send(t *testing.T, w *writer, senders, perSender, pad int) {
	t.Helper()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for n := range perSender {
				frame := fmt.Appendf(nil, `{"s":%d,"n":%d,"x":%q}`, s, n, strings.Repeat("x", pad*(n%5)))
				if err := w.write(context.Background(), ws.OpText, frame); err != nil {
					t.Errorf("sender %d, #%d: %v", s, n, err)
					return
				}
				if n%50 == 0 {
					time.Sleep(100 * time.Microsecond) // quiet: the next frame may be written at once
				}
			}
		})
	}
	wg.Wait()
}

// TestWriterFallsBackInOrder: frames written while the socket is full go
// through the queue, after whatever part of a frame the socket did not
// take, and the peer, reading at last, gets them all in order.
func TestWriterFallsBackInOrder(t *testing.T) {
	w, peer := startWriter(t)
	// A quiet connection: the frame is written before write returns.
	if err := w.write(context.Background(), ws.OpText, []byte(`{"s":0,"n":0}`)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	queued, busy := len(w.queue), w.busy
	w.mu.Unlock()
	if queued != 0 || busy {
		t.Fatalf("after a write on a quiet connection: %d bytes queued, busy %v", queued, busy)
	}
	r := bufio.NewReader(peer)
	checkSenders(t, readClientFrames(t, r, 1), 1, 1)

	const senders, perSender = 8, 100 // up to 800 KB: more than the socket holds, less than the queue
	send(t, w, senders, perSender, 500)
	w.close(ws.StatusNormalClosure, ErrClosed)
	frames := readClientFrames(t, r, senders*perSender+1)
	if len(frames) == 0 || frames[len(frames)-1] != "close" {
		t.Fatal("no close frame last")
	}
	checkSenders(t, frames[:len(frames)-1], senders, perSender)
	<-w.done
}

// TestWriterConcurrentSenders: senders racing, some writing themselves and
// some queueing, while the peer reads, lose nothing and keep each sender's
// order.
func TestWriterConcurrentSenders(t *testing.T) {
	w, peer := startWriter(t)
	const senders, perSender = 8, 500
	var frames []string
	read := make(chan struct{})
	go func() {
		defer close(read)
		frames = readClientFrames(t, bufio.NewReader(peer), senders*perSender)
	}()
	send(t, w, senders, perSender, 100)
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("frames missing")
	}
	checkSenders(t, frames, senders, perSender)
}

// TestWriterLargeFrameRestGoesFirst: a frame written by its sender that
// the socket takes only part of is finished by the writer goroutine before
// the frames written after it.
func TestWriterLargeFrameRestGoesFirst(t *testing.T) {
	w, peer := startWriter(t)
	big := fmt.Appendf(nil, `{"s":0,"n":0,"x":%q}`, strings.Repeat("z", 900<<10))
	if err := w.write(context.Background(), ws.OpText, big); err != nil {
		t.Fatal(err)
	}
	for n := 1; n < 10; n++ {
		if err := w.write(context.Background(), ws.OpText, fmt.Appendf(nil, `{"s":0,"n":%d}`, n)); err != nil {
			t.Fatal(err)
		}
	}
	checkSenders(t, readClientFrames(t, bufio.NewReader(peer), 10), 1, 10)
}

// TestWriterWriteNowFailure: a write that fails in the sender's goroutine
// fails the writer, as one of the writer goroutine does.
func TestWriterWriteNowFailure(t *testing.T) {
	w, peer := startWriter(t)
	_ = peer.(*net.TCPConn).SetLinger(0)
	_ = peer.Close() // RST
	var err error
	for range 100 {
		time.Sleep(time.Millisecond) // quiet, so that the sender writes
		if err = w.write(context.Background(), ws.OpText, []byte(`{"n":1}`)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("write to a reset socket: %v, want ErrDisconnected", err)
	}
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer goroutine did not exit")
	}
}
