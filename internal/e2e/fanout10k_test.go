package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/dynamolocal"
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

// TestQueuedFanout10kMembers: 10,000 WebSocket members (in a child process,
// spread over source addresses), one publish, every member receives it
// exactly once, through the queued path. The memberships are written to the
// table in one go (SubscribeAll, 16 buckets) rather than by 10,000
// subscribe events; the e2e suite covers subscribing.
func TestQueuedFanout10kMembers(t *testing.T) {
	const members = 10000
	// Quiet: the shutdown at the end cancels the members' $disconnect events.
	q := startQueuedAWS(t, 20000, slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), holderEnv+"="+q.srv.URL+" "+strconv.Itoa(members))
	holder.Stderr = os.Stderr
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = holder.Wait() })
	lines := bufio.NewScanner(stdout)
	var ids []string
	for lines.Scan() && lines.Text() != "ready" {
		ids = append(ids, lines.Text())
	}
	if len(ids) != members {
		t.Fatalf("holder connected %d members, want %d", len(ids), members)
	}
	t.Logf("%d members connected in %v", members, time.Since(start))
	store := awslambda.NewDynamoChannels(dynamolocal.NewClient(q.dynamo), awslambda.DynamoOptions{Table: q.table})
	if err := store.SubscribeAll(context.Background(), "ten-thousand", ids, 16); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	publishHTTP(t, q, "ten-thousand", `{"n":1}`)
	report := func() (once, none, more int) {
		t.Helper()
		if _, err := io.WriteString(stdin, "report\n"); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("holder: %v", lines.Err())
		}
		if _, err := fmt.Sscanf(lines.Text(), "report %d %d %d", &once, &none, &more); err != nil {
			t.Fatalf("holder said %q", lines.Text())
		}
		return once, none, more
	}
	waitUntil(t, "every member to receive the message", 30*time.Second, func() bool {
		once, _, more := report()
		if more > 0 {
			t.Fatalf("%d members received the message more than once", more)
		}
		return once == members
	})
	t.Logf("10,000 deliveries in %v", time.Since(start))
	waitUntil(t, "the queue to drain", 10*time.Second, func() bool { return q.drained(t) })
	if once, none, more := report(); once != members || none != 0 || more != 0 {
		t.Fatalf("once %d, none %d, more %d; want every member once", once, none, more)
	}
	// 10,000 $disconnect events make some 40,000 DynamoDB calls, longer
	// than this test should take on DynamoDB Local, and not what it tests:
	// shut the gateway down first, cancelling them (the table is dropped
	// with DynamoDB Local). The error says they were cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = q.srv.Gateway.Shutdown(ctx)
}
