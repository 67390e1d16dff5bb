package gateway

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

	"github.com/monologue-go/monologue/internal/testnet"
	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// newTCPConn is a gateway connection over a real socket, and the client's end.
func newTCPConn(t *testing.T, opts Options) (*conn, *net.TCPConn) {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	server, client := testnet.TCPPair(t, 4096) // the gateway's end fills up quickly
	c := newConn(g, server, "AAAAAAAAAAAAAAA=", relay.Identity{}, "")
	if c.raw == nil {
		t.Fatal("no raw socket for a TCP connection")
	}
	return c, client
}

// readFrames reads n server frames (unmasked) and returns their payloads.
func readFrames(t *testing.T, r io.Reader, n int) []string {
	t.Helper()
	br := bufio.NewReader(r)
	out := make([]string, 0, n)
	for range n {
		h, err := ws.ReadHeader(br)
		if err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		if h.OpCode != ws.OpText || !h.Fin || h.Masked {
			t.Fatalf("frame %d: header %+v", len(out), h)
		}
		out = append(out, string(p))
	}
	return out
}

type numbered struct {
	S int    `json:"s"`
	N int    `json:"n"`
	X string `json:"x,omitempty"`
}

// checkOrder checks that frames hold every n from 0 to perSender-1 of
// every sender, each sender's in order.
func checkOrder(t *testing.T, frames []string, senders, perSender int) {
	t.Helper()
	next := make([]int, senders)
	for i, f := range frames {
		var m numbered
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

// TestWriteNowFallsBackInOrder: frames sent to an idle connection are
// written by the sender; once the socket is full the rest of a frame and
// everything after it goes through the queue, and the client, reading at
// last, gets every frame in order.
func TestWriteNowFallsBackInOrder(t *testing.T) {
	c, client := newTCPConn(t, Options{SendQueueFrames: 10000, SendQueueBytes: 64 << 20})

	// Idle: the frame is written before send returns, with no writer left.
	if err := c.send(context.Background(), []byte(`{"s":0,"n":0}`)); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	writing := c.writing
	c.mu.Unlock()
	if writing {
		t.Fatal("a frame to an idle connection left a writer running")
	}

	const frames = 2000 // 2 MB: far more than the socket buffers hold
	pad := strings.Repeat("x", 1000)
	for n := 1; n < frames; n++ {
		if err := c.send(context.Background(), fmt.Appendf(nil, `{"s":0,"n":%d,"x":%q}`, n, pad)); err != nil {
			t.Fatalf("send #%d: %v", n, err)
		}
	}
	c.mu.Lock()
	writing = c.writing
	c.mu.Unlock()
	if !writing {
		t.Fatal("no writer waits for a full socket")
	}
	checkOrder(t, readFrames(t, client, frames), 1, frames)
	c.writers.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending.empty() || c.flightFrames != 0 || c.flightBytes != 0 || c.writing {
		t.Errorf("after draining: pending %v, in flight %d frames, %d bytes, writing %v",
			!c.pending.empty(), c.flightFrames, c.flightBytes, c.writing)
	}
}

// TestConcurrentSendersKeepOrder: senders racing to one connection, some
// writing themselves and some queueing, lose nothing and keep each
// sender's order.
func TestConcurrentSendersKeepOrder(t *testing.T) {
	c, client := newTCPConn(t, Options{SendQueueFrames: 100000, SendQueueBytes: 64 << 20})
	const senders, perSender = 8, 500
	var got []string
	read := make(chan struct{})
	go func() {
		defer close(read)
		got = readFrames(t, client, senders*perSender)
	}()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for n := range perSender {
				pad := strings.Repeat("y", n%7*100)
				if err := c.send(batchIf(n%3 == 0), fmt.Appendf(nil, `{"s":%d,"n":%d,"x":%q}`, s, n, pad)); err != nil {
					t.Errorf("sender %d, #%d: %v", s, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("frames missing")
	}
	checkOrder(t, got, senders, perSender)
	c.writers.Wait()
}

// TestWriteNowFailure: a direct write to a reset socket breaks the
// connection as a failed write of the writer goroutine does.
func TestWriteNowFailure(t *testing.T) {
	c, client := newTCPConn(t, Options{})
	_ = client.SetLinger(0)
	_ = client.Close() // RST
	var err error
	for range 100 {
		if err = c.send(context.Background(), []byte(`{"n":1}`)); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, wire.ErrGone) {
		t.Fatalf("send to a reset socket: %v, want gone after a failed write", err)
	}
	c.writers.Wait()
	if c.writeError() == nil || c.writeOK() {
		t.Errorf("write error %v, ok %v; want the failure recorded", c.writeError(), c.writeOK())
	}
}

// TestWriteNowRestGoesFirst: what the socket does not take of a frame being
// written by its sender goes ahead of the frames queued meanwhile.
func TestWriteNowRestGoesFirst(t *testing.T) {
	c, client := newTCPConn(t, Options{SendQueueBytes: 64 << 20})
	big := fmt.Appendf(nil, `{"s":0,"n":0,"x":%q}`, strings.Repeat("z", 4<<20)) // more than the socket holds
	// Be where enqueue leaves a sender that writes itself...
	c.mu.Lock()
	c.writing = true
	c.writers.Add(1)
	c.flightFrames, c.flightBytes = 1, wsframe.FrameSize(len(big))
	c.mu.Unlock()
	// ...when another sender queues a frame behind it.
	if err := c.send(context.Background(), []byte(`{"s":0,"n":1}`)); err != nil {
		t.Fatal(err)
	}
	_ = c.writeNow(ws.OpText, big, true)
	checkOrder(t, readFrames(t, client, 2), 1, 2)
	c.writers.Wait()
}

// batchIf is a context marked as a reader's with more messages buffered
// when more is true.
func batchIf(more bool) context.Context {
	if more {
		return MoreToFollow(context.Background())
	}
	return context.Background()
}
