package chaos

import (
	"github.com/monologue-go/monologue/internal/poll"

	"fmt"
	"testing"
	"time"
)

// Bounds of the cluster's guarantees (see the cluster package's doc).
const (
	// goneWithin: a connection of a dead node is gone to senders.
	goneWithin = 2 * time.Second
	// internalWithin: while NATS is away, what needs another node answers
	// internal (the guarantee is 1 s; the bound allows for a loaded machine).
	internalWithin = 3 * time.Second
	// pauseWithin bounds a pause of the messages between surviving nodes
	// around a kill. A sender whose delivery was in flight to the killed
	// node waits until the node is found gone (within about 100 ms of its
	// death); waiting out the cluster's request timeout (1 s) would pause
	// everything the sender sends after it.
	pauseWithin = time.Second
)

// TestKillNode kills one node of three with SIGKILL while connections on
// every node exchange numbered direct messages and publications: the
// killed node's connections are gone to senders within 2 s, the surviving
// nodes' connections carry on without losing, repeating or reordering
// anything, and their publications reach every surviving subscriber.
func TestKillNode(t *testing.T) {
	c := startProcCluster(t, 3)
	const victim = 2
	survivors := []int{0, 1}
	tr := newTraffic(t, c, 2, 20*time.Millisecond)
	probes := newProbes(t, c, survivors, 8)
	var deadIDs []string
	for _, w := range tr.workers {
		if w.slot == victim {
			deadIDs = append(deadIDs, w.c.id)
		}
	}

	tr.start()
	time.Sleep(1500 * time.Millisecond)
	killedAt := c.kill(victim)

	// Poll the dead node's connections from the surviving nodes until each
	// answers gone.
	goneAfter, err := probes.untilGone(killedAt, deadIDs, true, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the dead node's connections were gone to the probes %v after the kill", goneAfter.Round(time.Millisecond))
	if goneAfter > goneWithin {
		t.Errorf("the dead node's connections were gone %v after the kill, want within %v", goneAfter, goneWithin)
	}

	time.Sleep(3*time.Second - time.Since(killedAt))
	stoppedAt := time.Now()
	tr.stopSending()
	tr.sync(t, survivors)

	alive := func(w int) bool { return contains(survivors, tr.workers[w].slot) }
	// Wait for what the surviving workers sent each other to arrive.
	poll.Until(t, 10*time.Second, func() string {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for s := range tr.workers {
			for r := range tr.workers {
				if s == r || !alive(s) || !alive(r) {
					continue
				}
				if got, sent := len(tr.got[r][s]), len(tr.sent[s][r]); got+len(tr.errs[s][r]) < sent {
					return fmt.Sprintf("worker %d received %d of the %d direct messages of worker %d", r, got, sent, s)
				}
				if got, sent := len(tr.pubGot[r][s]), len(tr.pubSent[s]); got < sent {
					return fmt.Sprintf("worker %d received %d of the %d publications of worker %d", r, got, sent, s)
				}
			}
		}
		return ""
	})

	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, odd := range tr.odd {
		t.Errorf("unexpected frame: %s", odd)
	}
	var firstGone, longestGap time.Duration
	var longestPair string
	delivered, published := 0, 0
	for s := range tr.workers {
		for r := range tr.workers {
			if s == r {
				continue
			}
			pair := fmt.Sprintf("worker %d (node %d) to worker %d (node %d)", s, tr.workers[s].slot, r, tr.workers[r].slot)
			failed := func(n int) bool { _, ok := tr.errs[s][r][n]; return ok }
			if why := checkSequence(tr.got[r][s], failed); why != "" {
				t.Errorf("%s: %s (received %v)", pair, why, numbers(tr.got[r][s]))
			}
			pubFailed := func(int) bool { return false }
			if why := checkSequence(tr.pubGot[r][s], pubFailed); why != "" {
				t.Errorf("%s, publications: %s (received %v)", pair, why, numbers(tr.pubGot[r][s]))
			}
			for _, rc := range tr.got[r][s] {
				if e, ok := tr.errs[s][r][rc.n]; ok && e.code == "gone" {
					t.Errorf("%s: message %d was delivered and answered gone", pair, rc.n)
				}
			}
			switch {
			case alive(s) && alive(r):
				// Nothing may fail between survivors, and nothing pause.
				for n, e := range tr.errs[s][r] {
					t.Errorf("%s: message %d answered %s", pair, n, e.code)
				}
				if got, sent := len(tr.got[r][s]), len(tr.sent[s][r]); got != sent {
					t.Errorf("%s: %d of %d messages arrived", pair, got, sent)
				}
				if got, sent := len(tr.pubGot[r][s]), len(tr.pubSent[s]); got != sent {
					t.Errorf("%s: %d of %d publications arrived", pair, got, sent)
				}
				delivered += len(tr.got[r][s])
				published += len(tr.pubGot[r][s])
				if gap := maxGap(tr.got[r][s], killedAt.Add(-time.Second), stoppedAt); gap > longestGap {
					longestGap, longestPair = gap, pair
				}
			case alive(s):
				// To the dead node: every message written after the kill
				// fails, and from 2 s on with gone.
				first := time.Duration(-1)
				for n, at := range tr.sent[s][r] {
					e, ok := tr.errs[s][r][n+1]
					switch {
					case at.Before(killedAt):
					case !ok:
						t.Errorf("%s: message %d, written %v after the kill, got no error", pair, n+1, at.Sub(killedAt))
					case e.code == "gone":
						if first < 0 {
							first = e.at.Sub(killedAt)
						}
					case e.code != "internal" || at.After(killedAt.Add(goneWithin)):
						t.Errorf("%s: message %d, written %v after the kill, answered %s, want gone", pair, n+1, at.Sub(killedAt), e.code)
					}
				}
				if first < 0 {
					t.Errorf("%s: never answered gone", pair)
				}
				firstGone = max(firstGone, first)
			}
		}
		if alive(s) {
			for _, e := range tr.pubErrs[s] {
				t.Errorf("worker %d (node %d): a publication answered %s", s, tr.workers[s].slot, e.code)
			}
		}
	}
	t.Logf("between survivors: %d direct messages and %d publications, all in order, none twice; longest pause of a pair from 1 s before the kill: %v; each surviving sender told gone at last %v after the kill",
		delivered, published, longestGap.Round(time.Millisecond), firstGone.Round(time.Millisecond))
	if longestGap >= pauseWithin {
		t.Errorf("messages between surviving nodes paused for %v around the kill (%s), want less than %v", longestGap, longestPair, pauseWithin)
		for s := range tr.workers {
			for r := range tr.workers {
				for n, e := range tr.errs[s][r] {
					if e.at.Before(killedAt.Add(goneWithin)) && e.code != "gone" {
						t.Logf("worker %d's message %d to worker %d, written %v after the kill, answered %s %v after the kill",
							s, n, r, tr.sent[s][r][n-1].Sub(killedAt), e.code, e.at.Sub(killedAt))
					}
				}
			}
		}
	}
}
