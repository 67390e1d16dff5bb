package chaos

import (
	"github.com/monologue-go/monologue/internal/poll"

	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// trafficChannel is the channel every worker subscribes and publishes to.
const trafficChannel = "chaos"

// worker is a connection that sends numbered direct messages to every other
// worker in turn, publishes numbered messages to trafficChannel, and
// records what it receives.
type worker struct {
	index int
	slot  int // the node it is connected to
	c     *wsClient
}

// receipt is a numbered message as a worker received it.
type receipt struct {
	n  int
	at time.Time
}

// errorAt is an error frame as a worker received it.
type errorAt struct {
	code string
	at   time.Time
}

// traffic runs the workers and keeps the record of what each sent and
// received, for the checks.
type traffic struct {
	workers  []*worker
	interval time.Duration

	mu      sync.Mutex
	sent    [][][]time.Time     // sent[s][r][n-1]: when s wrote direct message n to r
	got     [][][]receipt       // got[r][s]: direct messages r received from s, in order
	errs    [][]map[int]errorAt // errs[s][r][n]: the error s received about message n to r
	pubSent [][]time.Time       // pubSent[s][k-1]: when s wrote publication k
	pubGot  [][][]receipt       // pubGot[r][s]: publications r received from s, in order
	pubErrs [][]errorAt         // pubErrs[s]: errors s received about its publications
	odd     []string            // frames nobody expected
	synced  []bool              // synced[w]: w's answer to whoami arrived

	stop    chan struct{}
	senders sync.WaitGroup
	readers sync.WaitGroup
}

// newTraffic connects perNode workers to each node, subscribes each to
// trafficChannel, and records nothing yet.
func newTraffic(t *testing.T, c *procCluster, perNode int, interval time.Duration) *traffic {
	t.Helper()
	tr := &traffic{interval: interval, stop: make(chan struct{})}
	for _, p := range c.live() {
		for range perNode {
			i := len(tr.workers)
			w := &worker{index: i, slot: p.slot, c: dial(t, p.url, c.key, fmt.Sprintf("worker %d on node %d", i, p.slot))}
			w.c.whoami(t)
			w.c.mustSend(t, `{"action":"subscribe","channel":"`+trafficChannel+`"}`)
			if got := string(w.c.mustNext(t)); got != `{"action":"subscribed","channel":"`+trafficChannel+`"}` {
				t.Fatalf("%s: subscribe answered %s", w.c.name, got)
			}
			tr.workers = append(tr.workers, w)
		}
	}
	n := len(tr.workers)
	tr.sent, tr.got, tr.errs = make([][][]time.Time, n), make([][][]receipt, n), make([][]map[int]errorAt, n)
	tr.pubSent, tr.pubGot, tr.pubErrs = make([][]time.Time, n), make([][][]receipt, n), make([][]errorAt, n)
	tr.synced = make([]bool, n)
	for i := range n {
		tr.sent[i], tr.got[i], tr.errs[i], tr.pubGot[i] = make([][]time.Time, n), make([][]receipt, n), make([]map[int]errorAt, n), make([][]receipt, n)
		for j := range n {
			tr.errs[i][j] = make(map[int]errorAt)
		}
	}
	return tr
}

// start starts every worker's sender and reader.
func (tr *traffic) start() {
	for _, w := range tr.workers {
		tr.readers.Go(func() { tr.read(w) })
		tr.senders.Go(func() { tr.send(w) })
	}
}

// stopSending stops the senders and waits for them.
func (tr *traffic) stopSending() {
	close(tr.stop)
	tr.senders.Wait()
}

// sync waits until each worker of slots, sending no more, has had every
// frame it sent answered: a node answers a connection's frames in order,
// so once the answer to a whoami arrives, every error about the frames
// before it has.
func (tr *traffic) sync(t *testing.T, slots []int) {
	t.Helper()
	for _, w := range tr.workers {
		if contains(slots, w.slot) {
			w.c.mustSend(t, "whoami")
		}
	}
	poll.Until(t, 10*time.Second, func() string {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, w := range tr.workers {
			if contains(slots, w.slot) && !tr.synced[w.index] {
				return w.c.name + " has not had its frames answered"
			}
		}
		return ""
	})
}

// send writes, every interval, a direct message to the next other worker
// in turn, and every fourth interval a publication, until stopped or the
// connection fails.
func (tr *traffic) send(w *worker) {
	ticker := time.NewTicker(tr.interval)
	defer ticker.Stop()
	s := w.index
	for tick := 0; ; tick++ {
		select {
		case <-tr.stop:
			return
		case <-ticker.C:
		}
		r := (s + 1 + tick%(len(tr.workers)-1)) % len(tr.workers)
		tr.mu.Lock()
		tr.sent[s][r] = append(tr.sent[s][r], time.Now())
		n := len(tr.sent[s][r])
		tr.mu.Unlock()
		to := tr.workers[r].c.id
		if w.c.send(fmt.Sprintf(`{"to":%q,"payload":{"s":%d,"n":%d},"id":"d.%d.%d"}`, to, s, n, r, n)) != nil {
			tr.mu.Lock()
			tr.sent[s][r] = tr.sent[s][r][:n-1]
			tr.mu.Unlock()
			return // the connection is gone with its node
		}
		if tick%4 != 0 {
			continue
		}
		tr.mu.Lock()
		tr.pubSent[s] = append(tr.pubSent[s], time.Now())
		k := len(tr.pubSent[s])
		tr.mu.Unlock()
		if w.c.send(fmt.Sprintf(`{"action":"publish","channel":%q,"payload":{"s":%d,"k":%d},"id":"p.%d"}`, trafficChannel, s, k, k)) != nil {
			tr.mu.Lock()
			tr.pubSent[s] = tr.pubSent[s][:k-1]
			tr.mu.Unlock()
			return
		}
	}
}

// read records what w receives until its connection ends or the test
// closes it.
func (tr *traffic) read(w *worker) {
	for {
		var f frame
		select {
		case f = <-w.c.frames:
		case <-w.c.quit:
			return
		}
		if f.err != nil {
			return
		}
		tr.record(w, f)
	}
}

func (tr *traffic) record(w *worker, f frame) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if string(f.data) == w.c.id {
		tr.synced[w.index] = true
		return
	}
	sf, err := parseFrame(f.data)
	odd := func() { tr.odd = append(tr.odd, fmt.Sprintf("%s received %s", w.c.name, f.data)) }
	if err != nil {
		odd()
		return
	}
	var payload struct{ S, N, K int }
	switch {
	case sf.Error != nil:
		id, _ := strconv.Unquote(string(sf.ID))
		parts := strings.Split(id, ".")
		switch {
		case len(parts) == 3 && parts[0] == "d":
			r, _ := strconv.Atoi(parts[1])
			n, _ := strconv.Atoi(parts[2])
			if r < 0 || r >= len(tr.workers) {
				odd()
				return
			}
			tr.errs[w.index][r][n] = errorAt{sf.Error.Code, f.at}
		case len(parts) == 2 && parts[0] == "p":
			tr.pubErrs[w.index] = append(tr.pubErrs[w.index], errorAt{sf.Error.Code, f.at})
		default:
			odd()
		}
	case sf.Channel == trafficChannel && json.Unmarshal(sf.Payload, &payload) == nil && payload.K > 0:
		if payload.S < 0 || payload.S >= len(tr.workers) || sf.From != tr.workers[payload.S].c.id {
			odd()
			return
		}
		tr.pubGot[w.index][payload.S] = append(tr.pubGot[w.index][payload.S], receipt{payload.K, f.at})
	case sf.From != "" && json.Unmarshal(sf.Payload, &payload) == nil && payload.N > 0:
		if payload.S < 0 || payload.S >= len(tr.workers) || sf.From != tr.workers[payload.S].c.id || sf.To != w.c.id {
			odd()
			return
		}
		tr.got[w.index][payload.S] = append(tr.got[w.index][payload.S], receipt{payload.N, f.at})
	default:
		odd()
	}
}

// checkSequence checks one stream of numbered messages from a sender to a
// receiver: strictly increasing (nothing twice, nothing out of order), and
// every number below the last received either received or answered with an
// error (nothing lost silently in the middle). It returns what is wrong.
func checkSequence(got []receipt, failed func(n int) bool) string {
	next := 1
	for _, r := range got {
		if r.n < next {
			return fmt.Sprintf("message %d arrived after message %d (twice, or out of order)", r.n, next-1)
		}
		for ; next < r.n; next++ {
			if !failed(next) {
				return fmt.Sprintf("message %d never arrived and no error was reported, but message %d did", next, r.n)
			}
		}
		next = r.n + 1
	}
	return ""
}

// numbers returns the numbers of the receipts.
func numbers(got []receipt) []int {
	ns := make([]int, len(got))
	for i, r := range got {
		ns[i] = r.n
	}
	return ns
}

// maxGap returns the longest time between two receipts within [from, to],
// counting from the first receipt at or after from, or from itself.
func maxGap(got []receipt, from, to time.Time) time.Duration {
	var longest time.Duration
	last := from
	for _, r := range got {
		if r.at.Before(from) {
			continue
		}
		if r.at.After(to) {
			break
		}
		longest = max(longest, r.at.Sub(last))
		last = r.at
	}
	return max(longest, to.Sub(last))
}

// contains reports whether slots holds slot.
func contains(slots []int, slot int) bool { return slices.Contains(slots, slot) }
