package cluster

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// A cut is the barrier a node runs when it takes an interest in a channel:
// it asks every live node to answer, and the answers come back on the same
// Go channel as the channel's publications. Each node answers after every
// publication it made before it saw the question, and NATS keeps one
// connection's messages in order, so a publication that arrives before the
// last answer was made before the interest was ready: it is not delivered,
// just as one node never delivers a publication made before a subscription
// to the new member. A publication made after the "subscribed" reply
// arrives after the cut, and is delivered.
type cut struct {
	remaining int
	done      chan struct{}
	finish    func() // runs once, on the inbound goroutine or on timeout
}

// cuts are a node's barriers in flight.
type cuts struct {
	subject string // where the answers arrive: "…n.TAG.cut."

	mu   sync.Mutex
	next uint64
	open map[uint64]*cut
}

// subscribeCuts routes the answers to this node's cuts into the inbound
// Go channel, in order with the publications.
func (n *Node) subscribeCuts() error {
	n.cuts.subject = n.prefix + "n." + n.tag.String() + ".cut."
	sub, err := n.nc.ChanSubscribe(n.cuts.subject+"*", n.inbound)
	if err != nil {
		return err
	}
	n.subs = append(n.subs, sub)
	return nil
}

// runCut asks every live node for an answer and returns once all of them
// have come through the inbound Go channel, or RequestTimeout has passed;
// finish runs once before it returns, in order with the inbound messages
// when every answer came.
func (n *Node) runCut(finish func()) {
	want := n.peers.count()
	if want == 0 || !n.nc.IsConnected() {
		finish()
		return
	}
	c := &cut{remaining: want, done: make(chan struct{}), finish: finish}
	n.cuts.mu.Lock()
	if n.cuts.open == nil {
		n.cuts.open = make(map[uint64]*cut)
	}
	n.cuts.next++
	token := n.cuts.next
	n.cuts.open[token] = c
	n.cuts.mu.Unlock()
	if n.nc.PublishRequest(n.prefix+subjectSync, n.cuts.subject+strconv.FormatUint(token, 10), nil) == nil {
		timer := time.NewTimer(n.opts.RequestTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
			return
		case <-timer.C:
		case <-n.ctx.Done():
		}
	}
	if n.closeCut(token) {
		finish()
	}
}

// closeCut removes a cut, reporting whether it was still open.
func (n *Node) closeCut(token uint64) bool {
	n.cuts.mu.Lock()
	defer n.cuts.mu.Unlock()
	if _, ok := n.cuts.open[token]; !ok {
		return false
	}
	delete(n.cuts.open, token)
	return true
}

// onCutAnswer counts an answer to a cut; with the last, it finishes the cut
// on the inbound goroutine, before any later message is handled.
func (n *Node) onCutAnswer(subject string) {
	token, err := strconv.ParseUint(strings.TrimPrefix(subject, n.cuts.subject), 10, 64)
	if err != nil {
		return
	}
	n.cuts.mu.Lock()
	c := n.cuts.open[token]
	if c == nil {
		n.cuts.mu.Unlock()
		return
	}
	c.remaining--
	last := c.remaining <= 0
	if last {
		delete(n.cuts.open, token)
	}
	n.cuts.mu.Unlock()
	if last {
		c.finish()
		close(c.done)
	}
}

// isCutAnswer reports whether an inbound message answers one of this
// node's cuts.
func (n *Node) isCutAnswer(m *nats.Msg) bool { return strings.HasPrefix(m.Subject, n.cuts.subject) }
