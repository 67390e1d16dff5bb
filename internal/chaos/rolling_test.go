package chaos

import (
	"github.com/monologue-go/monologue/internal/poll"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
)

// balancer is the test's load balancer: each connection a client opens
// goes to the next node that runs, whatever address the client dials, as
// a TCP load balancer in front of the nodes would send it.
type balancer struct {
	c    *procCluster
	next atomic.Uint64
}

// dial is monologue.Options.NetDial.
func (b *balancer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	live := b.c.live()
	if len(live) == 0 {
		return nil, errors.New("balancer: no node runs")
	}
	p := live[b.next.Add(1)%uint64(len(live))]
	var d net.Dialer
	return d.DialContext(ctx, network, strings.TrimSuffix(strings.TrimPrefix(p.url, "ws://"), "/"))
}

// callTimeout bounds each call of the rolling restart.
const callTimeout = 2 * time.Second

// peerClient is a Go client of the rolling restart: it answers echo,
// calls the next client, subscribes to the channel and publishes to it.
type peerClient struct {
	index  int
	client *monologue.Client

	mu          sync.Mutex
	id          string      // current connection ID
	reconnects  int         // reconnections so far
	received    [][]receipt // received[k]: publications of client k, in order
	oddMessages []string
}

func (p *peerClient) currentID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// callOutcome is one call as the caller saw it.
type callOutcome struct {
	caller int
	to     string
	start  time.Time
	took   time.Duration
	err    error
}

// TestRollingRestart restarts the nodes one at a time (SIGTERM, start
// again, wait until it reaches the others) while Go clients with
// Options.Reconnect, behind a balancer that sends each connection to a
// running node, call each other by ID (learned again after each
// reconnection) and publish to a channel they subscribe to. Every call
// ends within its timeout, with success or an error a restart explains
// (gone, internal, disconnected, deadline); afterwards calls succeed
// again, and every client — each reconnected at least once, and
// subscribed again by the client itself — receives publications again.
func TestRollingRestart(t *testing.T) {
	c := startProcCluster(t, 3)
	lb := &balancer{c: c}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const clients = 4
	const channel = "rolling"
	peers := make([]*peerClient, clients)
	for i := range clients {
		p := &peerClient{index: i, received: make([][]receipt, clients)}
		peers[i] = p
		client, err := monologue.Dial(context.Background(), &monologue.Options{
			Endpoint:    "ws://balancer.invalid/",
			APIKey:      c.key,
			NetDial:     lb.dial,
			Reconnect:   true,
			CallTimeout: callTimeout,
			Logger:      quiet,
			OnError:     func(error) {}, // a publication while reconnecting, say: counted by the caller
			OnReconnect: func(id string) {
				p.mu.Lock()
				p.id = id
				p.reconnects++
				p.mu.Unlock()
			},
			OnMessage: func(m monologue.Message) {
				var pub struct{ K, N int }
				p.mu.Lock()
				defer p.mu.Unlock()
				if m.Channel != channel || m.Bind(&pub) != nil || pub.K < 0 || pub.K >= clients {
					p.oddMessages = append(p.oddMessages, fmt.Sprintf("%+v", m))
					return
				}
				p.received[pub.K] = append(p.received[pub.K], receipt{pub.N, time.Now()})
			},
		})
		if err != nil {
			t.Fatalf("client %d: dial: %v", i, err)
		}
		t.Cleanup(func() { _ = client.Close() })
		p.client = client
		p.id = client.ID()
		if err := client.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
			var from, n int
			if err := req.Bind(&from, &n); err != nil {
				return nil, err
			}
			return []int{i, from, n}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := client.Subscribe(context.Background(), channel); err != nil {
			t.Fatalf("client %d: subscribe: %v", i, err)
		}
	}

	var (
		mu       sync.Mutex
		outcomes []callOutcome
		wrong    []string
	)
	stop := make(chan struct{})
	var running sync.WaitGroup
	for _, p := range peers {
		running.Go(func() {
			target := peers[(p.index+1)%clients]
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				start := time.Now()
				var got []int
				to := target.currentID()
				err := p.client.Call(ctx, to, "echo", []any{p.index, n}, &got)
				took := time.Since(start)
				cancel()
				mu.Lock()
				outcomes = append(outcomes, callOutcome{caller: p.index, to: to, start: start, took: took, err: err})
				if err == nil && (len(got) != 3 || got[0] != target.index || got[1] != p.index || got[2] != n) {
					wrong = append(wrong, fmt.Sprintf("client %d's call %d to client %d returned %v", p.index, n, target.index, got))
				}
				mu.Unlock()
				// A publication every other call; while reconnecting it fails
				// at once, and that is all.
				if n%2 == 0 {
					_ = p.client.Publish(context.Background(), channel, map[string]int{"k": p.index, "n": n / 2})
				}
			}
		})
	}

	time.Sleep(time.Second)
	for slot := range 3 {
		began := time.Now()
		c.terminate(slot)
		c.start(slot)
		c.waitMesh(20 * time.Second)
		t.Logf("node %d restarted in %v", slot, time.Since(began).Round(time.Millisecond))
		time.Sleep(time.Second)
	}
	restarted := time.Now()

	// Calls succeed again, and every client receives every other's
	// publications again.
	poll.Until(t, 15*time.Second, func() string {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range peers {
			ok := false
			for _, o := range outcomes {
				ok = ok || o.caller == p.index && o.err == nil && o.start.After(restarted)
			}
			if !ok {
				return fmt.Sprintf("no call of client %d has succeeded since the restarts", p.index)
			}
		}
		for _, p := range peers {
			p.mu.Lock()
			for k, got := range p.received {
				if k != p.index && (len(got) == 0 || got[len(got)-1].at.Before(restarted)) {
					p.mu.Unlock()
					return fmt.Sprintf("client %d has received no publication of client %d since the restarts", p.index, k)
				}
			}
			p.mu.Unlock()
		}
		return ""
	})
	close(stop)
	running.Wait()

	mu.Lock()
	defer mu.Unlock()
	for _, w := range wrong {
		t.Error(w)
	}
	counts := map[string]int{}
	var longest time.Duration
	for _, o := range outcomes {
		longest = max(longest, o.took)
		if o.took > callTimeout+time.Second {
			t.Errorf("client %d's call at %v took %v, past its timeout of %v: %v", o.caller, o.start.Format(time.StampMilli), o.took, callTimeout, o.err)
		}
		switch {
		case o.err == nil:
			counts["ok"]++
		case errors.Is(o.err, monologue.ErrGone):
			counts["gone"]++
			// Gone says the connection is closed: the target's connection
			// of now has been open since it learned its ID.
			if o.to == peers[(o.caller+1)%clients].currentID() {
				t.Errorf("client %d's call at %v to an open connection answered gone: %v", o.caller, o.start.Format(time.StampMilli), o.err)
			}
		case errors.Is(o.err, monologue.ErrInternal):
			counts["internal"]++
		case errors.Is(o.err, monologue.ErrDisconnected):
			counts["disconnected"]++
		case errors.Is(o.err, context.DeadlineExceeded):
			counts["deadline"]++
		default:
			t.Errorf("client %d's call at %v failed with an error no restart explains: %v", o.caller, o.start.Format(time.StampMilli), o.err)
		}
	}
	t.Logf("%d calls: %v; the longest took %v", len(outcomes), counts, longest.Round(time.Millisecond))
	for _, p := range peers {
		p.mu.Lock()
		if p.reconnects == 0 {
			t.Errorf("client %d never reconnected, though every node restarted", p.index)
		}
		for _, odd := range p.oddMessages {
			t.Errorf("client %d received %s", p.index, odd)
		}
		for k, got := range p.received {
			if why := checkSequence(got, func(int) bool { return true }); why != "" {
				t.Errorf("client %d, publications of client %d: %s", p.index, k, why)
			}
		}
		t.Logf("client %d reconnected %d times", p.index, p.reconnects)
		p.mu.Unlock()
	}
}
