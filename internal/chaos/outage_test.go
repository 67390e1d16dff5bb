package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/internal/poll"
)

// recoverWithin bounds how long after NATS returns the nodes reach each
// other again.
const recoverWithin = 15 * time.Second

// inProcessNode is a cluster node and its gateway, in this process.
type inProcessNode struct {
	node *cluster.Node
	srv  *gatewaytest.Server
}

// startInProcess starts n nodes that join through backbone, and waits
// until each knows the others.
func startInProcess(t *testing.T, backbone *clustertest.NATS, n int) []inProcessNode {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []inProcessNode
	for range n {
		node, err := cluster.New(context.Background(), cluster.Options{Conn: backbone.Connect(t), Logger: quiet})
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		opts := gateway.Options{APIKeys: []string{clusterKey}, Logger: quiet}
		node.Configure(&opts)
		nodes = append(nodes, inProcessNode{node: node, srv: gatewaytest.Start(t, opts)})
	}
	poll.Until(t, 10*time.Second, func() string {
		for _, n := range nodes {
			if live := len(n.node.Nodes()); live < len(nodes) {
				return fmt.Sprintf("node %s knows %d live nodes of %d", n.node.Tag(), live, len(nodes))
			}
		}
		return ""
	})
	return nodes
}

// httpDo makes a request and returns its status and x-amzn-ErrorType, and
// how long it took.
func httpDo(t *testing.T, method, u, body string) (int, string, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", clusterKey)
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), time.Since(start)
}

// connectionURL is the management API's URL of a connection.
func connectionURL(adminURL, id string) string {
	return adminURL + "/@connections/" + url.PathEscape(id)
}

// expectDelivered sends a direct message from one client to another and
// checks that it arrives, with no error.
func expectDelivered(t *testing.T, from, to *wsClient, payload string) {
	t.Helper()
	for _, answer := range from.roundTrip(t, fmt.Sprintf(`{"to":%q,"payload":%q}`, to.id, payload), frameTimeout) {
		t.Fatalf("%s to %s: %s", from.name, to.name, answer)
	}
	want := fmt.Sprintf(`{"to":%q,"from":%q,"payload":%q}`, to.id, from.id, payload)
	if got := string(to.mustNext(t)); got != want {
		t.Fatalf("%s received %s, want %s", to.name, got, want)
	}
}

// subscribe subscribes c to channel.
func subscribe(t *testing.T, c *wsClient, channel string) {
	t.Helper()
	c.mustSend(t, fmt.Sprintf(`{"action":"subscribe","channel":%q}`, channel))
	if got, want := string(c.mustNext(t)), fmt.Sprintf(`{"action":"subscribed","channel":%q}`, channel); got != want {
		t.Fatalf("%s: subscribe answered %s", c.name, got)
	}
}

// publish publishes payload to channel from c and returns what c was
// answered: nothing, or an error frame's code.
func publish(t *testing.T, c *wsClient, channel, payload string) string {
	t.Helper()
	code := ""
	for _, answer := range c.roundTrip(t, fmt.Sprintf(`{"action":"publish","channel":%q,"payload":%q}`, channel, payload), frameTimeout) {
		if code = errorCode(answer); code == "" {
			t.Fatalf("%s: publish answered %s", c.name, answer)
		}
	}
	return code
}

// expectPublication checks that c receives payload on channel from from
// ("" for an HTTP publish).
func expectPublication(t *testing.T, c *wsClient, channel, from, payload string) {
	t.Helper()
	want := fmt.Sprintf(`{"channel":%q,"from":%q,"payload":%q}`, channel, from, payload)
	if from == "" {
		want = fmt.Sprintf(`{"channel":%q,"payload":%q}`, channel, payload)
	}
	if got := string(c.mustNext(t)); got != want {
		t.Fatalf("%s received %s, want %s", c.name, got, want)
	}
}

// TestNATSOutage stops the one NATS server three nodes share, and starts
// it again. Meanwhile each node serves its own connections (direct
// messages, channels, the management API), and whatever needs another
// node answers internal promptly; afterwards everything works again by
// itself, channels subscribed before and during the outage included.
func TestNATSOutage(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	nodes := startInProcess(t, backbone, 3)
	var xs, ys []*wsClient
	for i, n := range nodes {
		x := dial(t, n.srv.URL, clusterKey, fmt.Sprintf("x%d on node %d", i, i))
		x.whoami(t)
		y := dial(t, n.srv.URL, clusterKey, fmt.Sprintf("y%d on node %d", i, i))
		y.whoami(t)
		xs, ys = append(xs, x), append(ys, y)
		subscribe(t, x, "before")
	}
	expectDelivered(t, xs[0], xs[1], "before the outage")

	backbone.Stop()
	stoppedAt := time.Now()

	// Each node alone: its own connections reach each other.
	for i := range nodes {
		x, y := xs[i], ys[i]
		expectDelivered(t, x, y, "during the outage")
		expectDelivered(t, y, x, "during the outage")
		channel := fmt.Sprintf("local%d", i)
		subscribe(t, y, channel)
		// The node cannot tell whether other nodes have members, so the
		// publisher may be told internal; its own node's members get it.
		if code := publish(t, x, channel, "local"); code != "" && code != "internal" {
			t.Errorf("publish to a channel of the node's own connections during the outage answered %s", code)
		}
		expectPublication(t, y, channel, x.id, "local")
		if status, _, took := httpDo(t, http.MethodPost, connectionURL(nodes[i].srv.AdminURL, y.id), "posted"); status != http.StatusOK {
			t.Errorf("POST @connections of a connection of the node itself during the outage: %d after %v", status, took)
		}
		if got := string(y.mustNext(t)); got != "posted" {
			t.Fatalf("%s received %s, want the post", y.name, got)
		}
	}

	// What needs another node answers internal, at once; also once the
	// nodes have taken each other for dead (unheard of for 1.5 s).
	for round := range 2 {
		if round == 1 {
			time.Sleep(time.Until(stoppedAt.Add(2 * time.Second)))
		}
		acrossDuringOutage(t, nodes, xs)
	}
	// A channel subscribed during the outage, on node 1.
	subscribe(t, ys[1], "during")
	t.Logf("served alone for %v", time.Since(stoppedAt).Round(time.Millisecond))

	backbone.Restart(t)
	restartedAt := time.Now()
	// Until the nodes reach each other again, a message across answers
	// internal: never gone, for these connections live.
	for i := range nodes {
		from, to := xs[i], xs[(i+1)%len(nodes)]
		poll.Until(t, recoverWithin, func() string {
			answers := from.roundTrip(t, fmt.Sprintf(`{"to":%q,"payload":"recovering"}`, to.id), frameTimeout)
			if len(answers) == 0 {
				return ""
			}
			if code := errorCode(answers[0]); code != "internal" || len(answers) > 1 {
				t.Fatalf("%s to %s as NATS returns: %q, want internal or delivered", from.name, to.name, answers)
			}
			return "not delivered yet"
		})
		if got, want := string(to.mustNext(t)), fmt.Sprintf(`{"to":%q,"from":%q,"payload":"recovering"}`, to.id, from.id); got != want {
			t.Fatalf("%s received %s, want %s", to.name, got, want)
		}
	}
	t.Logf("every node reached the next %v after NATS returned", time.Since(restartedAt).Round(time.Millisecond))

	// Everything works again.
	for i := range nodes {
		for j := range nodes {
			if i != j {
				expectDelivered(t, xs[i], ys[j], "after the outage")
			}
		}
	}
	for i, x := range xs {
		if code := publish(t, x, "before", fmt.Sprintf("after %d", i)); code != "" {
			t.Fatalf("%s: publish after the outage answered %s", x.name, code)
		}
		for _, other := range xs {
			if other != x {
				expectPublication(t, other, "before", x.id, fmt.Sprintf("after %d", i))
			}
		}
	}
	if code := publish(t, xs[2], "during", "to the one subscribed during"); code != "" {
		t.Fatalf("publish after the outage answered %s", code)
	}
	expectPublication(t, ys[1], "during", xs[2].id, "to the one subscribed during")
	if status, _, _ := httpDo(t, http.MethodPost, nodes[0].srv.PublicURL+"/channels/before", `"by http again"`); status != http.StatusAccepted {
		t.Fatalf("POST /channels after the outage: %d", status)
	}
	for _, x := range xs {
		expectPublication(t, x, "before", "", "by http again")
	}
	if status, _, _ := httpDo(t, http.MethodPost, connectionURL(nodes[0].srv.AdminURL, ys[2].id), "posted across"); status != http.StatusOK {
		t.Fatalf("POST @connections of another node's connection after the outage: %d", status)
	}
	if got := string(ys[2].mustNext(t)); got != "posted across" {
		t.Fatalf("%s received %s, want the post", ys[2].name, got)
	}
}

// acrossDuringOutage checks, from each node, that a direct message to a
// connection of the next node answers internal within internalWithin, as
// the management API does for it, and that POST /channels answers in time
// and reaches the node's own subscriber of "before".
func acrossDuringOutage(t *testing.T, nodes []inProcessNode, xs []*wsClient) {
	t.Helper()
	for i := range nodes {
		from, to := xs[i], xs[(i+1)%len(nodes)]
		sent := time.Now()
		from.mustSend(t, fmt.Sprintf(`{"to":%q,"payload":"across","id":7}`, to.id))
		f, ok := from.next(internalWithin)
		took := time.Since(sent)
		switch {
		case !ok:
			t.Fatalf("%s to %s during the outage: no answer within %v", from.name, to.name, internalWithin)
		case f.err != nil:
			t.Fatalf("%s: %v", from.name, f.err)
		}
		sf, err := parseFrame(f.data)
		if err != nil || sf.Error == nil || sf.Error.Code != "internal" || string(sf.ID) != "7" || sf.To != to.id {
			t.Fatalf("%s to %s during the outage: answered %s, want an internal error with the id and to", from.name, to.name, f.data)
		}
		t.Logf("%s to %s during the outage: internal after %v", from.name, to.name, took.Round(time.Microsecond))
		admin := nodes[i].srv.AdminURL
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			status, errorType, took := httpDo(t, method, connectionURL(admin, to.id), "across")
			if status != http.StatusInternalServerError || errorType != "InternalServerErrorException" || took > internalWithin {
				t.Errorf("%s @connections of another node's connection during the outage: %d %s after %v, want 500 InternalServerErrorException within %v",
					method, status, errorType, took, internalWithin)
			}
		}
		status, _, took := httpDo(t, http.MethodPost, nodes[i].srv.PublicURL+"/channels/before", `"by http"`)
		if took > internalWithin || (status != http.StatusAccepted && status != http.StatusInternalServerError) {
			t.Errorf("POST /channels during the outage: %d after %v, want 202 or 500 within %v", status, took, internalWithin)
		}
		t.Logf("POST /channels on node %d during the outage: %d after %v", i, status, took.Round(time.Microsecond))
		expectPublication(t, xs[i], "before", "", "by http") // its own node's member
	}
}
