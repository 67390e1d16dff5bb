package chaos

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// probes are connections that ask, each in turn, whether connections are
// gone. A node handles a connection's frames in order, so a message in
// flight to a node as it dies (answered internal after the cluster's
// request timeout) holds up that probe's next ones; the others carry on,
// so the pool sees gone as soon as the cluster says it.
type probes struct {
	t     *testing.T
	conns []*wsClient
}

// newProbes dials perNode probe connections to each node of slots.
func newProbes(t *testing.T, c *procCluster, slots []int, perNode int) *probes {
	t.Helper()
	p := &probes{t: t}
	for _, slot := range slots {
		for range perNode {
			conn := dial(t, c.node(slot).url, c.key, fmt.Sprintf("probe %d on node %d", len(p.conns), slot))
			conn.whoami(t)
			p.conns = append(p.conns, conn)
		}
	}
	return p
}

// untilGone sends a message to each of ids every 20 ms, each time from the
// next probe that is not waiting for an answer, until every one has been
// answered gone. It returns how long after since that was, and an error
// when a probe got an answer other than gone (or internal, when
// allowInternal), or when timeout passed.
func (p *probes) untilGone(since time.Time, ids []string, allowInternal bool, timeout time.Duration) (time.Duration, error) {
	var (
		mu      sync.Mutex
		pending = make(map[string]bool)
		wrong   error
		busy    = make([]bool, len(p.conns))
		wg      sync.WaitGroup
	)
	for _, id := range ids {
		pending[id] = true
	}
	defer wg.Wait()
	next := 0
	for tick := 0; ; tick++ {
		mu.Lock()
		done, err := len(pending) == 0, wrong
		mu.Unlock()
		switch {
		case err != nil:
			return 0, err
		case done:
			return time.Since(since), nil
		case time.Since(since) > timeout:
			return 0, fmt.Errorf("connections %v not gone after %v", pending, timeout)
		}
		for _, id := range ids {
			mu.Lock()
			i := -1
			for range p.conns {
				if next = (next + 1) % len(p.conns); !busy[next] {
					i = next
					break
				}
			}
			if i >= 0 {
				busy[i] = true
			}
			mu.Unlock()
			if i < 0 {
				break
			}
			wg.Go(func() {
				code, err := p.ask(p.conns[i], id)
				mu.Lock()
				defer mu.Unlock()
				busy[i] = false
				switch {
				case err != nil:
					wrong = err
				case code == "gone":
					delete(pending, id)
				case code == "", code == "internal" && allowInternal: // delivered before, or lost in flight
				default:
					wrong = fmt.Errorf("%s: a message to %s answered %s", p.conns[i].name, id, code)
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ask sends a message to id and returns the code of the error it was
// answered with, "" for none (delivered).
func (p *probes) ask(c *wsClient, id string) (string, error) {
	if err := c.send(fmt.Sprintf(`{"to":%q,"payload":"probe","id":"probe"}`, id)); err != nil {
		return "", err
	}
	if err := c.send("whoami"); err != nil {
		return "", err
	}
	code := ""
	for {
		f, ok := c.next(frameTimeout)
		switch {
		case !ok:
			return "", fmt.Errorf("%s: no answer within %v", c.name, frameTimeout)
		case f.err != nil:
			return "", fmt.Errorf("%s: %v", c.name, f.err)
		case string(f.data) == c.id:
			return code, nil
		}
		if e := errorCode(f.data); e != "" {
			code = e
		}
	}
}
