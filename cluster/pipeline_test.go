package cluster_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// The deferred deliveries between nodes, played against one real node by a
// ghost node over NATS. Their messages:
//
//	deliveries (to "…n.TAG.q"): [origin tag][first number] then, for each,
//	    [to][tenant][frame], numbered first, first+1, …
//	reports (to "…n.TAG.r"): [reporter tag][last number handled] then, for
//	    each failed range, [first][last][code][message]
//
// Fields are length-prefixed (uvarint lengths), numbers uvarints.

const clusterPrefix = "monologue." + cluster.DefaultName + "."

func field(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readTestField(t *testing.T, b []byte) (string, []byte) {
	t.Helper()
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		t.Fatalf("malformed field in %q", b)
	}
	return string(b[k : k+int(n)]), b[k+int(n):]
}

// queued is one delivery as a ghost received it.
type queued struct {
	origin         string
	seq            uint64
	to, tenant, fr string
}

// captureQueue collects the deliveries sent to g's queue subject.
func captureQueue(t *testing.T, g *ghost) <-chan queued {
	t.Helper()
	got := make(chan queued, 64)
	sub, err := g.nc.Subscribe(clusterPrefix+"n."+g.tag.String()+".q", func(m *nats.Msg) {
		origin, b := readTestField(t, m.Data)
		seq, k := binary.Uvarint(b)
		b = b[k:]
		for ; len(b) > 0; seq++ {
			var q queued
			q.origin, q.seq = origin, seq
			q.to, b = readTestField(t, b)
			q.tenant, b = readTestField(t, b)
			q.fr, b = readTestField(t, b)
			got <- q
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := g.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return got
}

// report sends node the ghost's report: last handled, and failures as
// [first, last, code, message] ranges.
func (g *ghost) report(t *testing.T, node wire.NodeTag, last uint64, failures ...[4]string) {
	t.Helper()
	b := field(nil, g.tag.String())
	b = binary.AppendUvarint(b, last)
	for _, f := range failures {
		var first, end uint64
		fmt.Sscan(f[0], &first)
		fmt.Sscan(f[1], &end)
		b = binary.AppendUvarint(b, first)
		b = binary.AppendUvarint(b, end)
		b = field(b, f[2])
		b = field(b, f[3])
	}
	if err := g.nc.Publish(clusterPrefix+"n."+node.String()+".r", b); err != nil {
		t.Fatal(err)
	}
}

func nextQueued(t *testing.T, got <-chan queued) queued {
	t.Helper()
	select {
	case q := <-got:
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery reached the ghost node within 5 s")
	}
	return queued{}
}

// errorCode returns the code of an error frame, "" for any other frame.
func errorCode(frame string) (code, id string) {
	var f struct {
		Error struct{ Code string } `json:"error"`
		ID    json.RawMessage       `json:"id"`
	}
	if json.Unmarshal([]byte(frame), &f) != nil {
		return "", ""
	}
	return f.Error.Code, string(f.ID)
}

// TestDeferredOutcomes: a message for a connection of another node leaves
// without waiting; a failure that node reports comes back as the error
// frame the sender would have had at once, and before the answer to a
// frame it sent after the message (which waits for the report); a message
// nobody reports on is answered internal after the request timeout; and
// one to a node that said goodbye, gone.
func TestDeferredOutcomes(t *testing.T) {
	// The request timeout is short where the test waits for it, and long
	// where an answer must come from the ghost before it.
	const requestTimeout, patient = 600 * time.Millisecond, 10 * time.Second
	start := func(t *testing.T, requestTimeout time.Duration) (testNode, *ghost, *deathPeer, <-chan queued) {
		backbone := clustertest.StartNATS(t)
		a := startNode(t, cluster.Options{Conn: backbone.Connect(t), RequestTimeout: requestTimeout}, gateway.Options{APIKeys: []string{deathKey}})
		g := newGhost(t, backbone)
		got := captureQueue(t, g)
		waitNodes(t, 2, a)
		return a, g, dialNode(t, a.srv.URL), got
	}
	send := func(t *testing.T, c *deathPeer, to, id string) {
		t.Helper()
		frame := `{"action":"sendmessage","to":` + string(wire.AppendString(nil, to)) + `,"payload":1,"id":"` + id + `"}`
		if err := c.ws.WriteMessage(1, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	whoami := func(t *testing.T, c *deathPeer) {
		t.Helper()
		if err := c.ws.WriteMessage(1, []byte("whoami")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("FailureBeforeLaterReply", func(t *testing.T) {
		a, g, c, got := start(t, patient)
		to := wire.NewConnectionIDOn(g.tag)
		send(t, c, to, "m1")
		whoami(t, c)
		q := nextQueued(t, got)
		if q.origin != a.node.Tag().String() || q.seq != 1 || q.to != to || !strings.Contains(q.fr, `"payload":1`) {
			t.Fatalf("the ghost received %+v", q)
		}
		// The whoami waits for the message's outcome.
		in := frames(t, c)
		select {
		case f := <-in:
			t.Fatalf("before the report, the sender got %s", f)
		case <-time.After(200 * time.Millisecond):
		}
		g.report(t, a.node.Tag(), 1, [4]string{"1", "1", "gone", "no connection"})
		if code, id := errorCode(nextFrame(t, in)); code != "gone" || id != `"m1"` {
			t.Fatalf("after a report of gone: code %q id %s, want gone for m1", code, id)
		}
		if got := nextFrame(t, in); got != c.id {
			t.Fatalf("then: %s, want the whoami answer", got)
		}
		// A message reported delivered has no answer.
		send(t, c, to, "m2")
		whoami(t, c)
		if q := nextQueued(t, got); q.seq != 2 {
			t.Fatalf("the second delivery is numbered %d", q.seq)
		}
		g.report(t, a.node.Tag(), 2)
		if got := nextFrame(t, in); got != c.id {
			t.Fatalf("after a report of success: %s, want the whoami answer", got)
		}
	})

	// A reply that waits for a report waits in the pipeline, not in the
	// event loop: another connection of the same loop is served meanwhile;
	// and what the connection sends after it leaves only once it is out, so
	// the error frame of a later message cannot overtake it.
	t.Run("LaterFramesWaitInThePipeline", func(t *testing.T) {
		backbone := clustertest.StartNATS(t)
		a := startNode(t, cluster.Options{Conn: backbone.Connect(t), RequestTimeout: patient},
			gateway.Options{APIKeys: []string{deathKey}, EventLoops: 1})
		g := newGhost(t, backbone)
		got := captureQueue(t, g)
		waitNodes(t, 2, a)
		c, other := dialNode(t, a.srv.URL), dialNode(t, a.srv.URL)
		to := wire.NewConnectionIDOn(g.tag)
		send(t, c, to, "m1")
		if q := nextQueued(t, got); q.seq != 1 {
			t.Fatalf("the first delivery is numbered %d", q.seq)
		}
		whoami(t, c)
		send(t, c, to, "m2")
		whoami(t, c)
		// The loop is free: the other connection's frame is answered.
		if got := other.ask("whoami"); got != other.id {
			t.Fatalf("another connection of the loop got %s, want its whoami answer", got)
		}
		select {
		case q := <-got:
			t.Fatalf("before the report of m1, the ghost received %+v", q)
		case <-time.After(200 * time.Millisecond):
		}
		in := frames(t, c)
		g.report(t, a.node.Tag(), 1, [4]string{"1", "1", "gone", "no connection"})
		if code, id := errorCode(nextFrame(t, in)); code != "gone" || id != `"m1"` {
			t.Fatalf("after a report of gone: code %q id %s, want gone for m1", code, id)
		}
		if got := nextFrame(t, in); got != c.id {
			t.Fatalf("then: %s, want the whoami answer", got)
		}
		if q := nextQueued(t, got); q.seq != 2 || !strings.Contains(q.fr, `"payload":1`) {
			t.Fatalf("then the ghost received %+v, want m2 numbered 2", q)
		}
		g.report(t, a.node.Tag(), 2, [4]string{"2", "2", "gone", "no connection"})
		if code, id := errorCode(nextFrame(t, in)); code != "gone" || id != `"m2"` {
			t.Fatalf("after m2's report: code %q id %s, want gone for m2", code, id)
		}
		if got := nextFrame(t, in); got != c.id {
			t.Fatalf("then: %s, want the second whoami answer", got)
		}
	})

	t.Run("NoReport", func(t *testing.T) {
		_, g, c, got := start(t, requestTimeout)
		sent := time.Now()
		send(t, c, wire.NewConnectionIDOn(g.tag), "m1")
		nextQueued(t, got)
		whoami(t, c)
		in := frames(t, c)
		if code, id := errorCode(nextFrame(t, in)); code != "internal" || id != `"m1"` {
			t.Fatalf("without a report: code %q id %s, want internal for m1", code, id)
		}
		if took := time.Since(sent); took < requestTimeout/2 {
			t.Fatalf("answered internal after %v, before the request timeout (%v)", took, requestTimeout)
		}
		if got := nextFrame(t, in); got != c.id {
			t.Fatalf("then: %s, want the whoami answer", got)
		}
	})

	t.Run("NodeLeft", func(t *testing.T) {
		_, g, c, got := start(t, patient)
		send(t, c, wire.NewConnectionIDOn(g.tag), "m1")
		nextQueued(t, got)
		if err := g.nc.Publish(clusterPrefix+"bye", []byte(g.tag.String())); err != nil {
			t.Fatal(err)
		}
		g.die(t)
		if code, id := errorCode(c.read(5 * time.Second)); code != "gone" || id != `"m1"` {
			t.Fatalf("to a node that left: code %q id %s, want gone for m1", code, id)
		}
	})
}

// frames reads c's frames on a goroutine of its own, so that a test can
// wait for one with a timeout and read on afterwards.
func frames(t *testing.T, c *deathPeer) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		for {
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			ch <- string(data)
		}
	}()
	return ch
}

func nextFrame(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("the connection closed")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5 s")
	}
	return ""
}

// TestQueuedDeliveries: a node delivers what another node queues for it in
// order, never twice, and reports the last number it handled with the
// failures: a number it never received, a connection that does not exist,
// one of another tenant.
func TestQueuedDeliveries(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	a := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, gateway.Options{APIKeys: []string{deathKey, "other-key"}})
	g := newGhost(t, backbone)
	waitNodes(t, 2, a)
	c := dialNode(t, a.srv.URL)
	tenant, _ := a.srv.Gateway.TenantOf(c.id)

	reports := make(chan []byte, 16)
	sub, err := g.nc.Subscribe(clusterPrefix+"n."+g.tag.String()+".r", func(m *nats.Msg) { reports <- m.Data })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := g.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	queue := func(first uint64, deliveries ...[3]string) {
		b := field(nil, g.tag.String())
		b = binary.AppendUvarint(b, first)
		for _, d := range deliveries {
			b = field(field(field(b, d[0]), d[1]), d[2])
		}
		if err := g.nc.Publish(clusterPrefix+"n."+a.node.Tag().String()+".q", b); err != nil {
			t.Fatal(err)
		}
	}
	queue(1, [3]string{c.id, tenant, "one"}, [3]string{c.id, tenant, "two"})
	queue(2, [3]string{c.id, tenant, "two again"})                                                          // handled already
	queue(4, [3]string{c.id, tenant, "four"}, [3]string{wire.NewConnectionIDOn(a.node.Tag()), tenant, "x"}) // 3 lost, 5 to nobody
	queue(6, [3]string{c.id, "another tenant", "six"})

	var last uint64
	failures := map[uint64]string{}
	deadline := time.After(5 * time.Second)
	for last < 6 {
		select {
		case b := <-reports:
			reporter, rest := readTestField(t, b)
			if reporter != a.node.Tag().String() {
				t.Fatalf("a report from %q", reporter)
			}
			n, k := binary.Uvarint(rest)
			rest = rest[k:]
			if n < last {
				t.Fatalf("reports went back from %d to %d", last, n)
			}
			last = n
			for len(rest) > 0 {
				first, k1 := binary.Uvarint(rest)
				end, k2 := binary.Uvarint(rest[k1:])
				var code string
				code, rest = readTestField(t, rest[k1+k2:])
				_, rest = readTestField(t, rest)
				for s := first; s <= end; s++ {
					failures[s] = code
				}
			}
		case <-deadline:
			t.Fatalf("reported up to %d after 5 s, want 6", last)
		}
	}
	want := map[uint64]string{3: "internal", 5: "gone", 6: "forbidden"}
	if fmt.Sprint(failures) != fmt.Sprint(want) {
		t.Errorf("failures reported: %v, want %v", failures, want)
	}
	for _, want := range []string{"one", "two", "four"} {
		if got := c.read(5 * time.Second); got != want {
			t.Fatalf("the connection got %q, want %q", got, want)
		}
	}
	if got := c.ask("whoami"); got != c.id {
		t.Fatalf("then %q, want nothing more", got)
	}
}
