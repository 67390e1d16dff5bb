package gateway_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// soakPeer is one connection of the soak test and what it saw.
type soakPeer struct {
	ws      *websocket.Conn
	id      string
	stalled bool // never reads after whoami

	mu        sync.Mutex
	closed    bool           // closed by the test before the end
	delivered map[string]int // payload tag -> times received
	errors    map[string]string
	badFrames int // bad_request answers to the malformed frames it sent
}

// TestSoak: a few hundred connections send random traffic (direct messages
// to random peers, malformed frames), some never read, some drop in the
// middle. Afterwards every message between two peers that stayed is
// accounted for — delivered once, or answered with an error — nothing is
// delivered twice, and once everyone has gone, the gateway's goroutines
// and memory are back near where they started.
func TestSoak(t *testing.T) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	s := start(t, gateway.Options{MaxMessageSize: 4096, SendQueueBytes: 32 << 10, SendQueueFrames: 64})
	const peers, messages = 300, 40
	rng := rand.New(rand.NewPCG(1, 2))
	all := make([]*soakPeer, peers)
	for i := range all {
		ws, _, err := websocket.DefaultDialer.Dial(s.url, http.Header{"X-Api-Key": {testKey}})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
			t.Fatal(err)
		}
		_, id, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		all[i] = &soakPeer{ws: ws, id: string(id), stalled: i%10 == 9, delivered: map[string]int{}, errors: map[string]string{}}
	}
	var readers sync.WaitGroup
	for _, p := range all {
		if p.stalled {
			continue
		}
		readers.Go(func() { p.read() })
	}

	// Every peer that reads also sends, from its own goroutine; a tenth
	// of them drop in the middle.
	type sent struct {
		from, to *soakPeer
		tag      string
	}
	var sentMu sync.Mutex
	var log []sent
	var senders sync.WaitGroup
	for i, p := range all {
		if p.stalled {
			continue
		}
		seed := rng.Uint64()
		dropsAt := -1
		if i%10 == 3 {
			dropsAt = messages / 2
		}
		senders.Go(func() {
			r := rand.New(rand.NewPCG(seed, 0))
			for m := range messages {
				if m == dropsAt {
					p.mu.Lock()
					p.closed = true
					p.mu.Unlock()
					_ = p.ws.Close()
					return
				}
				var frame string
				if r.IntN(10) == 0 {
					frame = `{"to":` // malformed: bad_request, with no id to echo
					p.mu.Lock()
					p.badFrames--
					p.mu.Unlock()
				} else {
					to := all[r.IntN(peers)]
					tag := fmt.Sprintf("%s/%d", p.id, m)
					sentMu.Lock()
					log = append(log, sent{p, to, tag})
					sentMu.Unlock()
					frame = fmt.Sprintf(`{"to":%q,"payload":%q,"id":%q}`, to.id, tag, tag)
				}
				if err := p.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if r.IntN(4) == 0 {
					time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
				}
			}
		})
	}
	senders.Wait()

	// Every message from a peer that stayed to a peer that reads and
	// stayed is delivered or answered with an error, within a few seconds.
	stayed := func(p *soakPeer) bool { p.mu.Lock(); defer p.mu.Unlock(); return !p.closed }
	accounted := func(m sent) bool {
		m.to.mu.Lock()
		got := m.to.delivered[m.tag]
		m.to.mu.Unlock()
		m.from.mu.Lock()
		_, answered := m.from.errors[m.tag]
		m.from.mu.Unlock()
		return got == 1 || answered
	}
	var checked int
	eventually(t, 10*time.Second, "every message accounted for", func() bool {
		checked = 0
		for _, m := range log {
			if !stayed(m.from) || !stayed(m.to) || m.to.stalled {
				continue
			}
			checked++
			if !accounted(m) {
				return false
			}
		}
		return true
	})
	if checked < peers*messages/2 {
		t.Fatalf("only %d messages between peers that stayed: the test checked too little", checked)
	}
	for _, p := range all {
		p.mu.Lock()
		for tag, n := range p.delivered {
			if n > 1 {
				t.Errorf("%s received %q %d times", p.id, tag, n)
			}
		}
		if !p.closed && !p.stalled && p.badFrames != 0 {
			t.Errorf("%s: %d malformed frames not answered with bad_request", p.id, -p.badFrames)
		}
		p.mu.Unlock()
	}

	for _, p := range all {
		_ = p.ws.Close()
	}
	readers.Wait()
	eventually(t, 10*time.Second, "every connection forgotten", func() bool {
		for _, p := range all {
			if _, ok := s.gw.Connection(p.id); ok {
				return false
			}
		}
		return true
	})
	eventually(t, 10*time.Second, "no byte left counted as queued", func() bool {
		return s.gw.QueuedBytes() == 0
	})
	eventually(t, 10*time.Second, "goroutines back near the start", func() bool {
		return runtime.NumGoroutine() <= goroutinesBefore+16
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Fatalf("heap in use grew by %d MiB over the soak and stayed", grown>>20)
	}
}

// read records what p receives until its connection ends.
func (p *soakPeer) read() {
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			Payload string `json:"payload"`
			ID      string `json:"id"`
			Error   *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		p.mu.Lock()
		switch {
		case f.Error != nil && f.ID != "":
			p.errors[f.ID] = f.Error.Code
		case f.Error != nil && f.Error.Code == "bad_request":
			p.badFrames++
		case f.Error == nil:
			p.delivered[f.Payload]++
		}
		p.mu.Unlock()
	}
}
