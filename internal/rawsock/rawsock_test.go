package rawsock_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/testnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	return testnet.TCPPair(t, 0)
}

func TestForIsPlainTCPOnly(t *testing.T) {
	a, _ := pair(t)
	if rawsock.For(a) == nil {
		t.Error("no raw connection for TCP")
	}
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if rawsock.For(p) != nil {
		t.Error("a raw connection for a pipe")
	}
}

func TestReadWrite(t *testing.T) {
	a, b := pair(t)
	ra, rb := rawsock.For(a), rawsock.For(b)
	if n, err := rawsock.TryWrite(ra, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("TryWrite: %d, %v", n, err)
	}
	buf := make([]byte, 16)
	if n, err := rawsock.Read(rb, buf); string(buf[:n]) != "hello" || err != nil {
		t.Fatalf("Read: %q, %v", buf[:n], err)
	}

	// Nothing to read: the read waits, within the deadline.
	_ = b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := rawsock.Read(rb, buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	_ = b.SetReadDeadline(time.Time{})

	// A full socket takes part of a write, then nothing, without blocking.
	_ = a.(*net.TCPConn).SetWriteBuffer(4096)
	chunk := make([]byte, 64<<10)
	short := false
	for range 1000 {
		n, err := rawsock.TryWrite(ra, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if n < len(chunk) {
			short = true
			break
		}
	}
	if !short {
		t.Fatal("the socket never filled up")
	}

	// The end of the stream, and a closed socket.
	_ = a.Close()
	for {
		_, err := rawsock.Read(rb, chunk)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read at the end: %v", err)
		}
	}
	_ = b.Close()
	if _, err := rawsock.Read(rb, buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := rawsock.TryWrite(rb, buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("TryWrite after Close: %v", err)
	}
}
