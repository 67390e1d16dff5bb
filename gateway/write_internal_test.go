package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// blockingConn is a net.Conn whose writes wait until released, and which
// records what was written and in how many calls.
type blockingConn struct {
	net.Conn // nil: only the methods below are used
	release  chan struct{}
	mu       sync.Mutex
	writes   int
	written  []byte
}

func (b *blockingConn) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	b.written = append(b.written, p...)
	return len(p), nil
}

func (b *blockingConn) SetWriteDeadline(time.Time) error { return nil }
func (b *blockingConn) SetReadDeadline(time.Time) error  { return nil }
func (b *blockingConn) Close() error                     { return nil }

func newTestConn(t *testing.T, opts Options) (*conn, *blockingConn) {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	netConn := &blockingConn{release: make(chan struct{})}
	c := newConn(g, netConn, "AAAAAAAAAAAAAAA=", relay.Identity{}, "")
	return c, netConn
}

// TestWriterBatches: frames queued while a write is in progress go out
// together in the next single write.
func TestWriterBatches(t *testing.T) {
	c, netConn := newTestConn(t, Options{})
	for range 100 {
		if err := c.send(context.Background(), []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	close(netConn.release)
	c.writers.Wait()
	netConn.mu.Lock()
	defer netConn.mu.Unlock()
	// The first frame may have been taken alone before the rest were queued.
	if netConn.writes > 2 {
		t.Errorf("%d writes for 100 frames, want at most 2", netConn.writes)
	}
	if want := 100 * (2 + len(`{"n":1}`)); len(netConn.written) != want {
		t.Errorf("wrote %d bytes, want %d", len(netConn.written), want)
	}
}

func TestQueueLimits(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		frame  int
		accept int // frames accepted while the writer is stuck
	}{
		{name: "frames", opts: Options{SendQueueFrames: 3}, frame: 10, accept: 3},
		{name: "bytes", opts: Options{SendQueueBytes: 100}, frame: 30, accept: 3},          // 3 × 32 bytes framed
		{name: "one large frame", opts: Options{SendQueueBytes: 10}, frame: 50, accept: 1}, // always fits an empty queue
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, netConn := newTestConn(t, tt.opts)
			accepted := 0
			var err error
			for range 10 {
				if err = c.send(context.Background(), make([]byte, tt.frame)); err != nil {
					break
				}
				accepted++
			}
			if accepted != tt.accept || !errors.Is(err, wire.ErrRateLimited) {
				t.Errorf("accepted %d then %v; want %d then rate_limited", accepted, err, tt.accept)
			}
			close(netConn.release)
			c.writers.Wait()
			if err := c.send(context.Background(), []byte("x")); err != nil {
				t.Errorf("send after the queue drained: %v", err)
			}
			c.writers.Wait()
		})
	}
}

func TestSendAfterCloseIsGone(t *testing.T) {
	c, netConn := newTestConn(t, Options{})
	close(netConn.release)
	c.queueClose(closeGoingAway, "bye")
	c.writers.Wait()
	if err := c.send(context.Background(), []byte("x")); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("send after close: %v, want gone", err)
	}
	if err := c.gw.Send(context.Background(), relay.Delivery{To: "never", Frame: []byte("x")}); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("send to an unknown ID: %v, want gone", err)
	}
}

// TestQueueGrowsInChunks: a send queue that fills to megabytes grows a
// bounded chunk at a time rather than as one buffer reallocated and copied
// at every doubling, every byte leaves in order, and once it has drained
// the connection holds no queue memory at all.
func TestQueueGrowsInChunks(t *testing.T) {
	c, netConn := newTestConn(t, Options{SendQueueFrames: 1 << 20, SendQueueBytes: 64 << 20})
	var want []byte
	for n := range 4096 { // 4096 frames of about 1 KiB: 4 MiB
		payload := fmt.Appendf(nil, `{"n":%d,"x":%q}`, n, strings.Repeat("x", 1000))
		if err := c.send(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
		want = wsframe.AppendFrame(want, ws.OpText, payload)
	}

	c.mu.Lock()
	queued, chunks, largest := c.pending.bytes, 0, 0
	for _, chunk := range append([]*[]byte{c.pending.head}, c.pending.more...) {
		if chunk != nil {
			chunks++
			largest = max(largest, cap(*chunk))
		}
	}
	inFlight := c.flightBytes
	c.mu.Unlock()
	if queued+inFlight != len(want) {
		t.Errorf("%d bytes queued and %d in flight, want %d", queued, inFlight, len(want))
	}
	if largest > maxPooledBuffer || chunks < queued/maxPooledBuffer {
		t.Errorf("%d bytes queued in %d chunks, the largest of %d bytes; want chunks of at most %d", queued, chunks, largest, maxPooledBuffer)
	}

	close(netConn.release)
	c.writers.Wait()
	netConn.mu.Lock()
	defer netConn.mu.Unlock()
	if !bytes.Equal(netConn.written, want) {
		t.Errorf("wrote %d bytes, want the %d queued, in order", len(netConn.written), len(want))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending.head != nil || c.pending.more != nil || c.pending.bytes != 0 {
		t.Errorf("after draining, the queue holds %d bytes in %d chunks", c.pending.bytes, len(c.pending.more)+1)
	}
}
