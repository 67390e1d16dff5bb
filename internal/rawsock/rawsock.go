// Package rawsock reads and writes plain TCP sockets through their raw
// connection, with system calls that never block: a read that finds no data
// waits in Go's netpoller as net.Conn's Read does, and a write makes one
// attempt and reports how much the socket took.
//
// Two things make them cheaper than net.Conn's Read and Write. A frame can
// be written by the goroutine that has it, without first being handed to a
// writer goroutine, since the attempt cannot block. And on Linux the calls
// are raw system calls: they skip the runtime's bookkeeping for calls that
// may block, which wakes the sysmon thread when the process has been idle
// and hands the P to another thread when a call lasts over 20 µs. On a
// relay that sleeps between messages that is one or two extra thread
// switches per message, on the same core, in the middle of the hop. On a
// two-core VM with the server pinned to one core, a TCP echo's round trip
// went from p50 62 µs, p90 83 µs to 58 and 63, and the gateway's thread
// switches per relayed call from 4.5 to 2.2. The calls are short: a read
// copies what has arrived, a write what fits in the send buffer, and
// writes over rawLimit bytes take the ordinary path.
//
// [For] returns a socket's raw connection, or nil when there is none to use
// (TLS, pipes, wrappers keep using net.Conn).
package rawsock

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// For returns the raw connection of a plain TCP socket; nil for anything
// else, including a TLS connection over one, and where this package does
// not support the platform.
func For(c net.Conn) syscall.RawConn {
	tcp, ok := c.(*net.TCPConn)
	if !ok || !supported {
		return nil
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// call carries one system call into the function RawConn.Read or Write
// calls. It is pooled with those functions bound to it, so that a call
// allocates nothing.
type call struct {
	b         []byte
	n         int
	err       error
	read      func(fd uintptr) bool
	writeOnce func(fd uintptr) bool
}

var calls = sync.Pool{New: func() any {
	c := new(call)
	c.read = func(fd uintptr) bool {
		c.n, c.err = read(fd, c.b)
		return c.err != syscall.EAGAIN // false: wait until readable
	}
	// Returning true tells RawConn.Write not to wait for the socket to
	// become writable: Go's sockets are non-blocking, so a full send buffer
	// is EAGAIN, not a wait.
	c.writeOnce = func(fd uintptr) bool {
		c.n, c.err = write(fd, c.b)
		return true
	}
	return c
}}

func (c *call) release() {
	c.b, c.n, c.err = nil, 0, nil
	calls.Put(c)
}

// Read reads into p as net.Conn's Read does: it waits for data, within the
// read deadline (failing with an error matching os.ErrDeadlineExceeded),
// returns io.EOF at the end of the stream, and an error matching
// net.ErrClosed once the socket is closed.
func Read(raw syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := calls.Get().(*call)
	c.b = p
	err := raw.Read(c.read)
	n, rerr := c.n, c.err
	c.release()
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// TryWrite writes as much of b as the socket takes at once and returns how
// much that was: all of b, part of it, or 0 when its send buffer is full or
// a write deadline set earlier has passed (the writer that queues the rest
// sets its own). It never blocks, except while another write on the socket
// holds Go's write lock; callers make sure none does. err is a failure of
// the socket (it is then broken), or an error matching net.ErrClosed once it
// is closed.
func TryWrite(raw syscall.RawConn, b []byte) (n int, err error) {
	c := calls.Get().(*call)
	c.b = b
	err = raw.Write(c.writeOnce)
	n, werr := c.n, c.err
	c.release()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, os.NewSyscallError("write", werr)
	}
	return n, nil
}

// ReadFD makes one read system call on the non-blocking descriptor fd, as
// an event loop that owns the descriptor does: n > 0 bytes, 0 with a nil
// error at the end of the stream, and syscall.EAGAIN when nothing has
// arrived. Other errors are the system call's, unwrapped.
func ReadFD(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return read(uintptr(fd), b)
}

// WriteFD makes one write system call on the non-blocking descriptor fd
// and reports how much of b the socket took; syscall.EAGAIN when its send
// buffer is full. Other errors are the system call's, unwrapped.
func WriteFD(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return write(uintptr(fd), b)
}
