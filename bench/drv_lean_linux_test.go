//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/monologue-go/monologue/bench/hist"
)

// TestLeanOpenMany: the plain driver's opener of many connections opens
// 200, 16 at a time, against the gateway and the floor relay; the server
// holds each as one TCP connection from the scenarios' source addresses;
// they stay open until closed, and then the opener's goroutine ends.
func TestLeanOpenMany(t *testing.T) {
	for _, peer := range []string{"monologue+plain", "floor+plain"} {
		t.Run(peer, func(t *testing.T) {
			ctx, srv := startTestPeer(t, peer)
			d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "k"}}
			opts := testOptions(peer).withDefaults()
			const n = 200
			h := hist.New()
			var tl tally
			holders, err := d.openMany(ctx, n, 16, opts, h, &tl)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAll(holders)
			if len(holders) != n || tl.errors != 0 || h.Count() != n {
				t.Fatalf("%d held, %d latencies, %d errors %q: want %d, %d, none", len(holders), h.Count(), tl.errors, tl.samples, n, n)
			}
			if h.Min() <= 0 || h.Max() > opts.CallTimeout.Nanoseconds() {
				t.Errorf("latencies from %d to %d ns", h.Min(), h.Max())
			}
			time.Sleep(100 * time.Millisecond)
			for i, c := range holders {
				select {
				case <-c.done():
					t.Fatalf("held connection %d ended while its server runs", i)
				default:
				}
			}
			from := serverSideSources(t, srv)
			if total := from["127.0.0.2"] + from["127.0.0.3"] + from["127.0.0.4"]; total != n || len(from) != 3 {
				t.Errorf("the server has connections from %v, want %d from 127.0.0.2 to .4", from, n)
			}
			exited := holders[0].(*leanConn).o.exited
			closeAll(holders[1:])
			select {
			case <-exited:
				t.Fatal("the opener ended while it held a connection")
			case <-time.After(50 * time.Millisecond):
			}
			closeAll(holders[:1])
			for i, c := range holders {
				select {
				case <-c.done():
				default:
					t.Fatalf("closed connection %d is not done", i)
				}
				if err := c.close(); err != nil {
					t.Errorf("second close: %v", err)
				}
			}
			waitClosed(t, exited, "the opener after its last connection closed")
		})
	}
}

// TestLeanOpenManyServerCloses: when the server goes, every held
// connection's done channel closes; the opener ends once they are closed.
func TestLeanOpenManyServerCloses(t *testing.T) {
	ctx, srv := startTestPeer(t, "monologue+plain")
	d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "k"}}
	var tl tally
	holders, err := d.openMany(ctx, 50, 8, testOptions("monologue+plain").withDefaults(), nil, &tl)
	if err != nil || len(holders) != 50 {
		t.Fatalf("%d held, error %v, %q", len(holders), err, tl.samples)
	}
	defer closeAll(holders)
	srv.stop()
	for i, c := range holders {
		waitClosed(t, c.done(), fmt.Sprintf("connection %d once its server stopped", i))
	}
	exited := holders[0].(*leanConn).o.exited
	closeAll(holders)
	waitClosed(t, exited, "the opener after its connections closed")
}

// TestLeanOpenManyWire: the opener writes what hold writes and sets the
// socket options net.Dialer sets; it accepts answers however they are cut
// (one byte at a time; the answer to whoami in the same write as the 101,
// read as leanHandshake reads frames that come with the 101); it reads
// and drops what a held connection receives, so that closing it ends the
// connection with a FIN, as hold's close does, not a reset.
func TestLeanOpenManyWire(t *testing.T) {
	for _, mode := range []string{"whole", "one byte at a time", "whoami answered with the 101"} {
		t.Run(mode, func(t *testing.T) {
			seen := make(chan []byte, 8)
			ends := make(chan error, 8)
			url := fakeServer(t, func(c net.Conn, r *bufio.Reader) {
				b, err := fakeAnswer(c, r, mode)
				if err != nil {
					b = []byte(err.Error())
				}
				seen <- b
				_, _ = c.Write([]byte("\x89\x00")) // a ping, to be read and dropped
				_, err = r.ReadByte()
				ends <- err
			})
			d := &plainDriver{monologueDriver: monologueDriver{url: url, apiKey: "k"}}
			ctx := context.Background()
			held, err := d.hold(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := <-seen
			wantOpts := sockOpts(t, held.(*leanHolder).c.(*net.TCPConn))
			time.Sleep(50 * time.Millisecond) // the ping arrives, and hold's reader reads it
			_ = held.close()
			if err := <-ends; err != io.EOF {
				t.Fatalf("hold's close ended the connection with %v", err)
			}
			var tl tally
			holders, err := d.openMany(ctx, 3, 2, &Options{CallTimeout: 10 * time.Second}, nil, &tl)
			if err != nil || len(holders) != 3 {
				t.Fatalf("%d held, error %v, %q", len(holders), err, tl.samples)
			}
			defer closeAll(holders)
			for range holders {
				if got := <-seen; !bytes.Equal(got, want) {
					t.Errorf("the opener wrote %q, hold %q", got, want)
				}
			}
			c := holders[0].(*leanConn)
			c.mu.Lock()
			got := optsOf(t, c.fd)
			c.mu.Unlock()
			if got != wantOpts {
				t.Errorf("socket options %v, net.Dialer's %v", got, wantOpts)
			}
			time.Sleep(50 * time.Millisecond) // the pings arrive
			for i, c := range holders {
				select {
				case <-c.done():
					t.Fatalf("held connection %d ended on a ping", i)
				default:
				}
			}
			closeAll(holders)
			for range holders {
				if err := <-ends; err != io.EOF {
					t.Errorf("the opener's close ended a connection with %v, want a FIN", err)
				}
			}
		})
	}
}

// fakeAnswer answers a lean handshake on c as mode says (see
// TestLeanOpenManyWire) and returns what the client wrote.
func fakeAnswer(c net.Conn, r *bufio.Reader, mode string) ([]byte, error) {
	const idAnswer = "\x81\x05conn1"
	req, err := readHead(r)
	if err != nil {
		return nil, err
	}
	write := func(b string) error {
		if mode != "one byte at a time" {
			_, err := c.Write([]byte(b))
			return err
		}
		for i := range len(b) {
			if _, err := c.Write([]byte{b[i]}); err != nil {
				return err
			}
			time.Sleep(50 * time.Microsecond)
		}
		return nil
	}
	first := fakeUpgrade
	if mode == "whoami answered with the 101" {
		first += idAnswer
	}
	if err := write(first); err != nil {
		return nil, err
	}
	whoami := make([]byte, len(leanWhoami))
	if _, err := io.ReadFull(r, whoami); err != nil {
		return nil, err
	}
	if first == fakeUpgrade {
		if err := write(idAnswer); err != nil {
			return nil, err
		}
	}
	return append(req, whoami...), nil
}

// TestLeanOpenManyFailures: a connection that fails, whatever the way, is
// an error of its own, counted in the tally (or, without one, the first
// is returned), and nothing hangs; the opener ends.
func TestLeanOpenManyFailures(t *testing.T) {
	refuse := func(answer string) func(net.Conn, *bufio.Reader) {
		return func(c net.Conn, r *bufio.Reader) {
			if _, err := readHead(r); err == nil {
				_, _ = c.Write([]byte(answer))
			}
		}
	}
	silent := func(c net.Conn, r *bufio.Reader) {
		if _, err := readHead(r); err == nil {
			_, _ = r.ReadByte() // until the client goes
		}
	}
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		return "ws://" + l.Addr().String() + "/ws"
	}
	cases := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration
		want    string
	}{
		{"not 101", func(t *testing.T) string {
			return fakeServer(t, refuse("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		}, 10 * time.Second, "handshake: answer \"HTTP/1.1 400 Bad Request"},
		{"wrong accept key", func(t *testing.T) string {
			return fakeServer(t, refuse(strings.Replace(fakeUpgrade, leanAccept, "AAAA", 1)))
		}, 10 * time.Second, "handshake: answer"},
		{"closed before the answer", func(t *testing.T) string {
			return fakeServer(t, refuse(""))
		}, 10 * time.Second, "handshake: EOF"},
		{"answer too long", func(t *testing.T) string {
			return fakeServer(t, refuse("HTTP/1.1 101 Switching Protocols\r\nX: "+strings.Repeat("x", 2000)))
		}, 10 * time.Second, "handshake: answer too long"},
		{"error for whoami", func(t *testing.T) string {
			return fakeServer(t, func(c net.Conn, r *bufio.Reader) {
				if _, err := readHead(r); err == nil {
					_, _ = c.Write([]byte(fakeUpgrade + "\x81\x02{}"))
					_, _ = r.ReadByte()
				}
			})
		}, 10 * time.Second, "whoami: answer \"{}\" is not a connection ID"},
		{"silent", func(t *testing.T) string { return fakeServer(t, silent) }, 200 * time.Millisecond, "handshake: no progress within 200ms"},
		{"refused", closedPort, 10 * time.Second, "connect: connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &plainDriver{monologueDriver: monologueDriver{url: tc.url(t), apiKey: "k"}}
			opts := &Options{CallTimeout: tc.timeout, SourceAddrs: 2}
			const n = 40
			var tl tally
			begin := time.Now()
			holders, err := d.openMany(context.Background(), n, 8, opts, hist.New(), &tl)
			closeAll(holders)
			if err != nil || len(holders) != 0 || tl.errors != n {
				t.Fatalf("%d held, %d errors, error %v: want none, %d, nil", len(holders), tl.errors, err, n)
			}
			if len(tl.samples) == 0 || !strings.Contains(tl.samples[0], tc.want) {
				t.Errorf("errors %q, want %q", tl.samples, tc.want)
			}
			if took := time.Since(begin); took > 5*time.Second+tc.timeout*n/8 {
				t.Errorf("took %v", took)
			}
			// Without a tally the first failure stops it.
			holders, err = d.openMany(context.Background(), n, 8, opts, nil, nil)
			closeAll(holders)
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(holders) != 0 {
				t.Errorf("without a tally: %d held, error %v", len(holders), err)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		ctx, srv := startTestPeer(t, "monologue+plain")
		d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "not the key"}}
		var tl tally
		holders, _ := d.openMany(ctx, 20, 4, testOptions("monologue+plain").withDefaults(), nil, &tl)
		closeAll(holders)
		if len(holders) != 0 || tl.errors != 20 {
			t.Fatalf("%d held and %d errors with the wrong key, want 0 and 20 (%q)", len(holders), tl.errors, tl.samples)
		}
	})

	t.Run("context ends", func(t *testing.T) {
		d := &plainDriver{monologueDriver: monologueDriver{url: fakeServer(t, silent), apiKey: "k"}}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		var tl tally
		begin := time.Now()
		holders, _ := d.openMany(ctx, 100, 8, &Options{CallTimeout: time.Minute}, nil, &tl)
		closeAll(holders)
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("took %v after its context ended", took)
		}
		if len(holders) != 0 || tl.errors != 8 || !strings.Contains(tl.samples[0], context.Canceled.Error()) {
			t.Errorf("%d held, %d errors %q: want the 8 in flight to fail", len(holders), tl.errors, tl.samples)
		}
	})
}

// TestLeanOpenManyContextEndsHeld: held connections close, done, when the
// opener's context ends, and the opener ends.
func TestLeanOpenManyContextEndsHeld(t *testing.T) {
	_, srv := startTestPeer(t, "monologue+plain")
	d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "k"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holders, err := d.openMany(ctx, 10, 4, testOptions("monologue+plain").withDefaults(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for i, c := range holders {
		waitClosed(t, c.done(), fmt.Sprintf("connection %d once the context ended", i))
	}
	waitClosed(t, holders[0].(*leanConn).o.exited, "the opener once the context ended")
	closeAll(holders)
}

// fakeUpgrade is a 101 answer to the lean handshake.
const fakeUpgrade = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + leanAccept + "\r\n\r\n"

// fakeServer serves each connection with serve until the test ends, and
// returns its WebSocket URL.
func fakeServer(t *testing.T, serve func(net.Conn, *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + l.Addr().String() + "/ws"
}

// readHead reads an HTTP request's head, blank line included.
func readHead(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		head = append(head, line...)
	}
	return head, nil
}

// socketOpts are the options of a TCP socket that net.Dialer sets.
type socketOpts struct{ noDelay, keepAlive, idle, interval, count int }

// optsOf reads fd's socketOpts.
func optsOf(t *testing.T, fd int) socketOpts {
	t.Helper()
	var o socketOpts
	for _, opt := range []struct {
		to          *int
		level, name int
	}{
		{&o.noDelay, unix.IPPROTO_TCP, unix.TCP_NODELAY},
		{&o.keepAlive, unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		{&o.idle, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{&o.interval, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
		{&o.count, unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	} {
		v, err := unix.GetsockoptInt(fd, opt.level, opt.name)
		if err != nil {
			t.Fatal(err)
		}
		*opt.to = v
	}
	return o
}

// sockOpts reads c's socketOpts.
func sockOpts(t *testing.T, c *net.TCPConn) socketOpts {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var o socketOpts
	if err := raw.Control(func(fd uintptr) { o = optsOf(t, int(fd)) }); err != nil {
		t.Fatal(err)
	}
	return o
}

// serverSideSources counts the established TCP connections that srv's
// process holds on its WebSocket port, by their source address, from
// /proc/net/tcp. Only sockets among the process's descriptors count: the
// tests of other packages, running beside this one, may hold a connection
// whose local port is the same number.
func serverSideSources(t *testing.T, srv *server) map[string]int {
	t.Helper()
	parsed, err := url.Parse(srv.ready.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(parsed.Port())
	if err != nil {
		t.Fatal(err)
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", srv.cmd.Process.Pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fdDir + "/" + fd.Name())
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			held[strings.TrimSuffix(inode, "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	from := map[string]int{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "01" || !strings.HasSuffix(f[1], fmt.Sprintf(":%04X", p)) || !held[f[9]] {
			continue
		}
		var a uint32
		if _, err := fmt.Sscanf(f[2][:8], "%08X", &a); err != nil {
			t.Fatal(err)
		}
		// /proc/net/tcp prints the address as a host-order (little-endian) word.
		from[net.IPv4(byte(a), byte(a>>8), byte(a>>16), byte(a>>24)).String()]++
	}
	return from
}

// waitClosed fails the test unless ch closes within 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done within 10 s", what)
	}
}
