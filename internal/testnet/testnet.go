// Package testnet holds helpers for tests that need real sockets on
// loopback.
package testnet

import (
	"net"
	"testing"
)

// TCPPair returns the two ends of a new loopback TCP connection: the one
// that dialed and the one that was accepted. Both are closed when the test
// ends. sendBuffer, when above zero, is the send buffer of the dialed end,
// so that it fills up quickly when the other end does not read. (Shrink a
// send buffer, not a receive buffer: on loopback's 64 KiB MSS a small
// receive buffer holds back window updates and stalls the stream.)
func TCPPair(t testing.TB, sendBuffer int) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepts := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepts <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-accepts
	if a == nil {
		d.Close()
		t.Fatal("accept failed")
	}
	dialed, accepted = d.(*net.TCPConn), a.(*net.TCPConn)
	t.Cleanup(func() { _ = dialed.Close(); _ = accepted.Close() })
	if sendBuffer > 0 {
		if err := dialed.SetWriteBuffer(sendBuffer); err != nil {
			t.Fatal(err)
		}
	}
	return dialed, accepted
}
