package relaytest

import (
	"context"
	"sync"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Recorder is an in-memory relay.Sender for unit tests: it keeps every frame
// sent to a connection it knows, and answers wire.ErrGone for others and
// relay.ErrOtherTenant for a delivery from another tenant.
type Recorder struct {
	mu      sync.Mutex
	frames  map[string][]string
	tenants map[string]string
}

var _ relay.Sender = (*Recorder)(nil)

// NewRecorder returns a Recorder that knows the given connection IDs, all of
// tenant "".
func NewRecorder(connectionIDs ...string) *Recorder {
	r := &Recorder{frames: make(map[string][]string), tenants: make(map[string]string)}
	for _, id := range connectionIDs {
		r.frames[id] = nil
	}
	return r
}

// SetTenant puts a known connection in tenant.
func (r *Recorder) SetTenant(connectionID, tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tenants[connectionID] = tenant
}

// Send records d.Frame for d.To.
func (r *Recorder) Send(_ context.Context, d relay.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	frames, ok := r.frames[d.To]
	if !ok {
		return wire.ErrGone
	}
	if r.tenants[d.To] != d.Tenant {
		return relay.ErrOtherTenant(d.To)
	}
	r.frames[d.To] = append(frames, string(d.Frame))
	return nil
}

// Remove forgets a connection, so later sends to it are gone.
func (r *Recorder) Remove(connectionID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.frames, connectionID)
}

// Take returns and clears the frames sent to connectionID.
func (r *Recorder) Take(connectionID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	frames := r.frames[connectionID]
	if _, ok := r.frames[connectionID]; ok {
		r.frames[connectionID] = nil
	}
	return frames
}
