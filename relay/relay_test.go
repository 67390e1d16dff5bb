package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
	"github.com/monologue-go/monologue/wire"
)

func newRelay(t *testing.T, ids ...string) (*relay.Relay, *relaytest.Recorder, *[]wire.Code) {
	t.Helper()
	rec := relaytest.NewRecorder(ids...)
	var codes []wire.Code
	r := relay.New(relay.Options{
		Sender: rec, Channels: channels.NewMemory(0), MaxMessageSize: 200,
		OnError: func(c wire.Code) { codes = append(codes, c) },
	})
	return r, rec, &codes
}

func handle(t *testing.T, r *relay.Relay, from, route, body string) {
	t.Helper()
	if err := r.Handle(context.Background(), relay.Event{ConnectionID: from, Route: route, Body: []byte(body)}); err != nil {
		t.Fatalf("Handle(%s, %q): %v", route, body, err)
	}
}

func expect(t *testing.T, rec *relaytest.Recorder, id string, want ...string) {
	t.Helper()
	got := rec.Take(id)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("frames to %s:\ngot  %q\nwant %q", id, got, want)
	}
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name, route, body string
		toA, toB          []string
	}{
		{"whoami", "$default", `whoami`, []string{`A`}, nil},
		{"loopback", "loopback", `{"action":"loopback","payload":{"k": [1, 2]}}`, []string{`{"to":"A","from":"A","payload":{"k": [1, 2]}}`}, nil},
		{"sendmessage", "sendmessage", `{"action":"sendmessage","to":"B","payload":"hi","from":"X"}`, nil, []string{`{"to":"B","from":"A","payload":"hi"}`}},
		{"default", "$default", `{"to":"B","payload":12345678901234567890123}`, nil, []string{`{"to":"B","from":"A","payload":12345678901234567890123}`}},
		{"send", "send", `{"action":"send","message":{"a":1}}`, []string{`{"message":{"a":1}}`}, nil},
		{"pong", "send", `{"action":"send"}`, []string{`{"message":"🏓 pong"}`}, nil},
		{"gone", "$default", `{"to":"Z","payload":1,"id":7}`, []string{`{"error":{"code":"gone","message":"no connection \"Z\""},"id":7,"to":"Z"}`}, nil},
		{"not json", "$default", `hello`, []string{`{"error":{"code":"bad_request","message":"frame is not JSON"}}`}, nil},
		{"not object", "$default", `[1]`, []string{`{"error":{"code":"bad_request","message":"frame is not a JSON object"}}`}, nil},
		{"missing to", "$default", `{"payload":1,"id":"q"}`, []string{`{"error":{"code":"bad_request","message":"missing to"},"id":"q"}`}, nil},
		{"unknown action", "$default", `{"action":"Loopback","id":1}`, []string{`{"error":{"code":"unknown_action","message":"unknown action \"Loopback\""},"id":1}`}, nil},
		{"missing channel", "subscribe", `{"action":"subscribe"}`, []string{`{"error":{"code":"bad_request","message":"missing channel"}}`}, nil},
		{"too large", "$default", `{"to":"B","payload":"` + strings.Repeat("x", 170) + `"}`, []string{`{"error":{"code":"payload_too_large","message":"frame to deliver exceeds 200 bytes"},"to":"B"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec, _ := newRelay(t, "A", "B")
			handle(t, r, "A", tt.route, tt.body)
			expect(t, rec, "A", tt.toA...)
			expect(t, rec, "B", tt.toB...)
		})
	}
}

func TestChannels(t *testing.T) {
	r, rec, _ := newRelay(t, "A", "B", "C")
	handle(t, r, "A", "subscribe", `{"action":"subscribe","channel":"news","id":"s1"}`)
	handle(t, r, "B", "subscribe", `{"action":"subscribe","channel":"news"}`)
	expect(t, rec, "A", `{"action":"subscribed","channel":"news","id":"s1"}`)
	expect(t, rec, "B", `{"action":"subscribed","channel":"news"}`)

	handle(t, r, "A", "publish", `{"action":"publish","channel":"news","payload":{"n":1}}`)
	expect(t, rec, "A") // not to the publisher
	expect(t, rec, "B", `{"channel":"news","from":"A","payload":{"n":1}}`)
	expect(t, rec, "C") // not subscribed

	handle(t, r, "B", "unsubscribe", `{"action":"unsubscribe","channel":"news","id":2}`)
	expect(t, rec, "B", `{"action":"unsubscribed","channel":"news","id":2}`)
	handle(t, r, "A", "publish", `{"action":"publish","channel":"news","payload":2}`)
	expect(t, rec, "B")

	if err := r.Broadcast(context.Background(), "", "news", []byte(`"hi"`)); err != nil {
		t.Fatal(err)
	}
	expect(t, rec, "A", `{"channel":"news","payload":"hi"}`)
}

func TestPublishDropsGoneSubscribers(t *testing.T) {
	store := channels.NewMemory(0)
	rec := relaytest.NewRecorder("A", "B")
	r := relay.New(relay.Options{Sender: rec, Channels: store, FanoutConcurrency: 4})
	handle(t, r, "B", "subscribe", `{"action":"subscribe","channel":"c"}`)
	rec.Remove("B")
	handle(t, r, "A", "publish", `{"action":"publish","channel":"c","payload":1}`)
	if store.Len() != 0 {
		t.Fatalf("gone subscriber still subscribed: %d channels", store.Len())
	}
}

func TestDisconnectDropsSubscriptions(t *testing.T) {
	store := channels.NewMemory(0)
	r := relay.New(relay.Options{Sender: relaytest.NewRecorder("A"), Channels: store})
	handle(t, r, "A", "subscribe", `{"action":"subscribe","channel":"c"}`)
	handle(t, r, "A", "$disconnect", ``)
	if store.Len() != 0 {
		t.Fatalf("disconnect left %d channels", store.Len())
	}
}

func TestTenants(t *testing.T) {
	rec := relaytest.NewRecorder("A", "B", "C")
	rec.SetTenant("A", "t1")
	rec.SetTenant("B", "t1")
	rec.SetTenant("C", "t2")
	r := relay.New(relay.Options{Sender: rec, Channels: channels.NewMemory(0)})
	ev := func(from, tenant, body string) {
		t.Helper()
		if err := r.Handle(context.Background(), relay.Event{ConnectionID: from, Route: "$default", Body: []byte(body), Identity: relay.Identity{Tenant: tenant}}); err != nil {
			t.Fatal(err)
		}
	}
	ev("A", "t1", `{"to":"B","payload":1}`)
	expect(t, rec, "B", `{"to":"B","from":"A","payload":1}`)
	ev("A", "t1", `{"to":"C","payload":1}`)
	expect(t, rec, "C")
	expect(t, rec, "A", `{"error":{"code":"forbidden","message":"connection \"C\" belongs to another tenant"},"to":"C"}`)

	ev("C", "t2", `{"action":"subscribe","channel":"x"}`)
	ev("B", "t1", `{"action":"subscribe","channel":"x"}`)
	rec.Take("C")
	rec.Take("B")
	ev("A", "t1", `{"action":"publish","channel":"x","payload":1}`)
	expect(t, rec, "B", `{"channel":"x","from":"A","payload":1}`)
	expect(t, rec, "C") // same channel name, other tenant
}

// failingStore is a Channels store whose backend is down.
type failingStore struct{ *channels.Memory }

var errDown = errors.New("store down")

func (*failingStore) Subscribe(context.Context, string, string) error { return errDown }

func TestStoreFailureIsInternal(t *testing.T) {
	rec := relaytest.NewRecorder("A")
	var codes []wire.Code
	r := relay.New(relay.Options{Sender: rec, Channels: &failingStore{channels.NewMemory(0)}, OnError: func(c wire.Code) { codes = append(codes, c) }})
	err := r.Handle(context.Background(), relay.Event{ConnectionID: "A", Route: "subscribe", Body: []byte(`{"action":"subscribe","channel":"c","id":1}`)})
	if !errors.Is(err, errDown) {
		t.Fatalf("Handle err = %v, want the store's error", err)
	}
	expect(t, rec, "A", `{"error":{"code":"internal","message":"internal error"},"id":1}`)
	if len(codes) != 1 || codes[0] != wire.CodeInternal {
		t.Fatalf("OnError codes = %v", codes)
	}
}

func TestPreparsedFrame(t *testing.T) {
	r, rec, _ := newRelay(t, "A", "B")
	frame, err := wire.Parse([]byte(`{"to":"B","payload":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Handle(context.Background(), relay.Event{ConnectionID: "A", Route: "$default", Frame: &frame}); err != nil {
		t.Fatal(err)
	}
	expect(t, rec, "B", `{"to":"B","from":"A","payload":true}`)
}

// discard is a Sender that accepts everything, for benchmarks.
type discard struct{}

func (discard) Send(context.Context, relay.Delivery) error { return nil }

func BenchmarkHandleDirect(b *testing.B) {
	r := relay.New(relay.Options{Sender: discard{}, Channels: channels.NewMemory(0)})
	body := []byte(`{"action":"sendmessage","to":"AtuLLemUPHcCItg=","payload":{"type":"REQ","data":{"token":"1","name":"echo","args":["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]}}}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		frame, _ := wire.Parse(body)
		if err := r.Handle(ctx, relay.Event{ConnectionID: "BtuLLemUPHcCItg=", Route: "sendmessage", Body: body, Frame: &frame}); err != nil {
			b.Fatal(err)
		}
	}
}

// publishingStore is a Channels store that publishes itself, as a store
// spread over several nodes does, and records what it was asked.
type publishingStore struct {
	*channels.Memory
	mu           sync.Mutex
	publications []relay.Publication
	membersRead  int
}

func (s *publishingStore) Publish(_ context.Context, p relay.Publication) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.Frame = bytes.Clone(p.Frame)
	s.publications = append(s.publications, p)
	return nil
}

func (s *publishingStore) Members(ctx context.Context, channel string, fn func([]string) error) error {
	s.mu.Lock()
	s.membersRead++
	s.mu.Unlock()
	return s.Memory.Members(ctx, channel, fn)
}

// TestChannelPublisher: with a store that publishes itself, a publish and
// an HTTP broadcast are one call of the store, carrying the tenant-qualified
// channel, the publisher's tenant, the publisher to skip and the frame; the
// relay neither reads the members nor sends to them.
func TestChannelPublisher(t *testing.T) {
	rec := relaytest.NewRecorder("A", "B")
	rec.SetTenant("A", "t1")
	rec.SetTenant("B", "t1")
	store := &publishingStore{Memory: channels.NewMemory(0)}
	r := relay.New(relay.Options{Sender: rec, Channels: store})
	ev := relay.Event{ConnectionID: "B", Route: "subscribe", Body: []byte(`{"action":"subscribe","channel":"c"}`), Identity: relay.Identity{Tenant: "t1"}}
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rec.Take("B")
	ev = relay.Event{ConnectionID: "A", Route: "publish", Body: []byte(`{"action":"publish","channel":"c","payload":[1]}`), Identity: relay.Identity{Tenant: "t1"}}
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := r.Broadcast(context.Background(), "t1", "c", []byte(`"news"`)); err != nil {
		t.Fatal(err)
	}
	want := []relay.Publication{
		{Channel: "t1:c", Tenant: "t1", Skip: "A", Frame: []byte(`{"channel":"c","from":"A","payload":[1]}`)},
		{Channel: "t1:c", Tenant: "t1", Skip: "", Frame: []byte(`{"channel":"c","payload":"news"}`)},
	}
	if len(store.publications) != len(want) {
		t.Fatalf("publications = %+v, want %+v", store.publications, want)
	}
	for i := range want {
		got := store.publications[i]
		if got.Channel != want[i].Channel || got.Tenant != want[i].Tenant || got.Skip != want[i].Skip || !bytes.Equal(got.Frame, want[i].Frame) {
			t.Fatalf("publication %d = %+v (frame %s), want %+v (frame %s)", i, got, got.Frame, want[i], want[i].Frame)
		}
	}
	if store.membersRead != 0 {
		t.Fatalf("the relay read the members %d times, want none: the store publishes", store.membersRead)
	}
	expect(t, rec, "B") // the relay sent nothing itself
}

// fullQueue is a Sender whose every connection's queue is full.
type fullQueue struct{}

func (fullQueue) Send(context.Context, relay.Delivery) error { return wire.ErrRateLimited }

// TestErrorsCountedWhenDelivered: an error frame that a full queue drops
// was never seen by the client, so it is not counted.
func TestErrorsCountedWhenDelivered(t *testing.T) {
	var codes []wire.Code
	r := relay.New(relay.Options{Sender: fullQueue{}, Channels: channels.NewMemory(0), OnError: func(c wire.Code) { codes = append(codes, c) }})
	handle(t, r, "A", "$default", `{"action":"nope"}`)
	if len(codes) != 0 {
		t.Fatalf("counted %v for error frames that were dropped", codes)
	}
	r, _, counted := newRelay(t, "A")
	handle(t, r, "A", "$default", `{"action":"nope"}`)
	if len(*counted) != 1 || (*counted)[0] != wire.CodeUnknownAction {
		t.Fatalf("counted %v, want the one delivered unknown_action", *counted)
	}
}

// TestPresenceListCut: presence counts every member but lists at most
// MaxListed; count > len(members) says the list was cut.
func TestPresenceListCut(t *testing.T) {
	rec := relaytest.NewRecorder("A")
	store := channels.NewMemory(0)
	r := relay.New(relay.Options{Sender: rec, Channels: store})
	const members = relay.MaxListed + 5
	for i := range members {
		if err := store.Subscribe(context.Background(), "big", fmt.Sprintf("c%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	handle(t, r, "A", "presence", `{"action":"presence","channel":"big"}`)
	var p struct {
		Count   int
		Members []string
	}
	frames := rec.Take("A")
	if len(frames) != 1 || json.Unmarshal([]byte(frames[0]), &p) != nil {
		t.Fatalf("presence reply %v", frames)
	}
	if p.Count != members || len(p.Members) != relay.MaxListed {
		t.Fatalf("count %d with %d listed, want %d with %d", p.Count, len(p.Members), members, relay.MaxListed)
	}
}
