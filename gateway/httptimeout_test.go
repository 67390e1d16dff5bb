package gateway_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// slowRequest writes head at once, then drip one byte at a time, every
// interval, until the server answers or closes; it returns how many bytes
// of drip were sent by then, and the response's status (0: closed without
// one). It gives up, failing, after giveUp.
func slowRequest(t *testing.T, addr, head, drip string, interval, giveUp time.Duration) (sent, status int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(giveUp))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		switch {
		case err == nil:
			resp.Body.Close()
			answered <- resp.StatusCode
		case errors.Is(err, net.ErrClosed), isTimeout(err):
			answered <- -1
		default: // EOF or reset: the server closed the connection
			answered <- 0
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case status := <-answered:
			if status < 0 {
				t.Fatalf("no answer within %v: %d of %d bytes sent", giveUp, sent, len(drip))
			}
			return sent, status
		case <-tick.C:
			if sent < len(drip) {
				if _, err := conn.Write([]byte{drip[sent]}); err == nil {
					sent++
				}
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestHTTPReadTimeout: on both listeners, a request whose headers or body
// trickle in, a byte every 100 ms, is cut off at HTTPReadTimeout, long
// before it is complete; a WebSocket connection outlives that time.
func TestHTTPReadTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := start(t, gateway.Options{HTTPReadTimeout: timeout})
	c := s.dial(t)
	id := c.whoami()

	body := strings.Repeat("x", 30) // 3 s at a byte every 100 ms
	publicAddr, adminAddr := strings.TrimPrefix(s.http, "http://"), strings.TrimPrefix(s.admin, "http://")
	for _, tt := range []struct {
		name, addr, head, drip string
	}{
		{"public body", publicAddr,
			"POST /channels/news HTTP/1.1\r\nHost: " + publicAddr + "\r\nX-Api-Key: " + testKey + "\r\nContent-Length: 30\r\n\r\n", body},
		{"admin body", adminAddr,
			"POST /@connections/" + url.PathEscape(id) + " HTTP/1.1\r\nHost: " + adminAddr + "\r\nContent-Length: 30\r\n\r\n", body},
		{"public headers", publicAddr, "POST /channels/news HTTP/1.1\r\n", "X-Api-Key: " + testKey + "\r\nContent-Length: 0\r\n\r\n"},
		{"admin headers", adminAddr, "GET /healthz HTTP/1.1\r\n", "Host: " + adminAddr + "\r\nUser-Agent: slow\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			started := time.Now()
			sent, status := slowRequest(t, tt.addr, tt.head, tt.drip, 100*time.Millisecond, 10*time.Second)
			if sent == len(tt.drip) || status == http.StatusOK || status == http.StatusAccepted {
				t.Fatalf("sent %d of %d bytes, then HTTP %d after %v: the request was not cut off", sent, len(tt.drip), status, time.Since(started))
			}
			if waited := time.Since(started); waited < timeout/2 {
				t.Errorf("cut off after %v; the limit is %v", waited, timeout)
			}
		})
	}

	time.Sleep(3 * timeout)
	if got := c.whoami(); got != id {
		t.Fatalf("whoami after %v: %q", 3*timeout, got)
	}
}
