package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// holderEnv, when set in the environment of this test binary, makes it a
// holder of WebSocket members instead of running tests: "URL N". A process
// may hold at most 20,000 files, so 10,000 members and the gateway's 10,000
// connections cannot share one.
const holderEnv = "MONOLOGUE_E2E_MEMBER_HOLDER"

// runHolder dials N members to URL, spread over source addresses
// 127.0.0.2…, prints each one's ID, then "ready"; each line "report" on
// stdin is answered "report ONCE NONE MORE" (members that received exactly
// one frame, none, more than one); at the end of stdin it closes them all.
func runHolder(spec string) int {
	url, n, _ := strings.Cut(spec, " ")
	count, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		return 2
	}
	frames := make([]atomic.Int64, count)
	conns := make([]*websocket.Conn, count)
	ids := make([]string, count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Value
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dialer := websocket.Dialer{
				NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%200))}}).DialContext,
				HandshakeTimeout: 20 * time.Second,
			}
			ws, _, err := dialer.Dial(url, http.Header{"X-Api-Key": {testAPIKey}})
			if err == nil {
				err = ws.WriteMessage(websocket.TextMessage, []byte("whoami"))
			}
			var id []byte
			if err == nil {
				_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, id, err = ws.ReadMessage()
				_ = ws.SetReadDeadline(time.Time{})
			}
			if err != nil {
				failed.Store(fmt.Sprintf("member %d: %v", i, err))
				return
			}
			conns[i], ids[i] = ws, string(id)
		}()
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		fmt.Fprintln(os.Stderr, "holder:", msg)
		return 1
	}
	var readers sync.WaitGroup
	for i, ws := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				frames[i].Add(1)
			}
		}()
	}
	out := bufio.NewWriter(os.Stdout)
	for _, id := range ids {
		fmt.Fprintln(out, id)
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		once, none, more := 0, 0, 0
		for i := range frames {
			switch n := frames[i].Load(); {
			case n == 0:
				none++
			case n == 1:
				once++
			default:
				more++
			}
		}
		fmt.Printf("report %d %d %d\n", once, none, more)
	}
	for _, ws := range conns {
		ws.Close()
	}
	readers.Wait()
	return 0
}
