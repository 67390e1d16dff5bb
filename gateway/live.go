package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Live updates: GET /api/events is a stream of server-sent events, one
// "stats" event a second carrying every node's counters and rates (the
// answer of GET /api/nodes). One sampler goroutine serves every stream, and
// runs only while a stream is open.

const (
	// maxLiveStreams bounds the open event streams; one more gets 503.
	maxLiveStreams = 16
	// liveInterval is how often the streams get an event.
	liveInterval = time.Second
	// liveWriteTimeout bounds writing one event to a stream.
	liveWriteTimeout = 10 * time.Second
)

// liveEvent is the data of a "stats" event.
type liveEvent struct {
	Time time.Time `json:"time"`
	nodesAnswer
}

// liveHub fans the sampler's events out to the open streams.
type liveHub struct {
	g *Gateway

	mu      sync.Mutex
	streams map[chan []byte]struct{}
	last    []byte   // the latest event, for a stream that opens
	sampler *sampler // nil while no stream is open
}

// sampler is the goroutine that makes the events.
type sampler struct {
	cancel context.CancelFunc // stops it
	done   chan struct{}      // closed when it has stopped
}

func newLiveHub(g *Gateway) *liveHub {
	return &liveHub{g: g, streams: make(map[chan []byte]struct{})}
}

// open adds a stream, starting the sampler for the first one; ok is false
// when maxLiveStreams are open already.
func (h *liveHub) open() (ch chan []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) >= maxLiveStreams {
		return nil, false
	}
	ch = make(chan []byte, 1)
	h.streams[ch] = struct{}{}
	if h.last != nil {
		ch <- h.last
	}
	if h.sampler == nil {
		ctx, cancel := context.WithCancel(h.g.ctx)
		s := &sampler{cancel: cancel, done: make(chan struct{})}
		h.sampler = s
		go h.sample(ctx, s)
	}
	return ch, true
}

// close removes a stream; the last one stops the sampler and waits for it.
func (h *liveHub) close(ch chan []byte) {
	h.mu.Lock()
	delete(h.streams, ch)
	s := h.sampler
	if len(h.streams) > 0 || s == nil {
		h.mu.Unlock()
		return
	}
	h.sampler, h.last = nil, nil
	h.mu.Unlock()
	s.cancel()
	<-s.done
}

// sample sends an event to every stream now and then every liveInterval,
// until ctx ends.
func (h *liveHub) sample(ctx context.Context, s *sampler) {
	defer close(s.done)
	ticker := time.NewTicker(liveInterval)
	defer ticker.Stop()
	for {
		data, err := json.Marshal(liveEvent{Time: time.Now().UTC(), nodesAnswer: h.g.nodes(ctx)})
		if err == nil {
			h.publish(s, data)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// publish hands data to every stream, replacing an event a slow stream has
// not taken yet.
func (h *liveHub) publish(s *sampler, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sampler != s { // stopped meanwhile
		return
	}
	h.last = data
	for ch := range h.streams {
		select {
		case <-ch:
		default:
		}
		ch <- data
	}
}

// serveEvents is GET /api/events: text/event-stream, an event "stats" a
// second, until the client goes or the gateway shuts down.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	hub := g.insight.live
	ch, ok := hub.open()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "too many open event streams")
		return
	}
	defer hub.close(ch)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-g.ctx.Done():
			return
		case data := <-ch:
			_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
			if _, err := w.Write(append(append([]byte("event: stats\ndata: "), data...), "\n\n"...)); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}
