// Package fakemgmt is a stand-in for API Gateway's @connections management
// API that holds no sockets: it counts the frames posted to each connection
// ID, answers 410 GoneException for IDs marked gone and 429
// LimitExceededException above a request rate, as the account throttle
// does. The queued fan-out's tests and benchmark use it to reach tens of
// thousands of members without as many WebSocket connections.
//
// Entry points: [New], [Server.Handler], [Server.Stats].
package fakemgmt

import (
	"net/http"
	"sync"
	"time"
)

// Server is the fake management API. It is safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	frames    map[string]int // connection ID → frames received
	gone      map[string]bool
	first     time.Time // first accepted post
	last      time.Time // last accepted post
	posts     int
	delivered int
	throttled int
	goneHits  int

	rate   float64 // requests/s; 0: unlimited
	burst  float64
	tokens float64
	refill time.Time
}

// New returns a Server that accepts rate requests per second (with a burst
// of a tenth of a second's worth; zero: no limit).
func New(rate float64) *Server {
	s := &Server{frames: make(map[string]int), gone: make(map[string]bool), rate: rate}
	if rate > 0 {
		s.burst = max(1, rate/10)
		s.tokens = s.burst
		s.refill = time.Now()
	}
	return s
}

// Gone marks ids as gone: posts to them are answered 410.
func (s *Server) Gone(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.gone[id] = true
	}
}

// Handler serves POST /{stage}/@connections/{id}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{stage}/@connections/{id}", s.post)
	return mux
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	now := time.Now()
	s.posts++
	if s.rate > 0 {
		s.tokens = min(s.burst, s.tokens+now.Sub(s.refill).Seconds()*s.rate)
		s.refill = now
		if s.tokens < 1 {
			s.throttled++
			s.mu.Unlock()
			writeError(w, http.StatusTooManyRequests, "LimitExceededException")
			return
		}
		s.tokens--
	}
	if s.gone[id] {
		s.goneHits++
		s.mu.Unlock()
		writeError(w, http.StatusGone, "GoneException")
		return
	}
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.delivered++
	s.frames[id]++
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func writeError(w http.ResponseWriter, status int, errorType string) {
	w.Header().Set("x-amzn-ErrorType", errorType)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"message":"` + errorType + `"}`))
}

// Stats is what the server saw.
type Stats struct {
	Posts     int            // requests received
	Throttled int            // answered 429
	Gone      int            // answered 410
	Frames    map[string]int // connection ID → frames delivered
	First     time.Time      // first delivery
	Last      time.Time      // last delivery
}

// Stats returns a copy of what the server saw.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	frames := make(map[string]int, len(s.frames))
	for id, n := range s.frames {
		frames[id] = n
	}
	return Stats{Posts: s.posts, Throttled: s.throttled, Gone: s.goneHits, Frames: frames, First: s.first, Last: s.last}
}

// Counts returns the frames delivered and the requests throttled so far,
// and the time of the last delivery, without copying the per-connection
// counts as Stats does.
func (s *Server) Counts() (delivered, throttled int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered, s.throttled, s.last
}
