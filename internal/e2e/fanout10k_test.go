//go:build !race

// The race detector makes 10,000 connections and their events about four
// times slower, past a minute: make test runs this test again without it.

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/dynamolocal"
)

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
