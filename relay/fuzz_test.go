package relay_test

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
	"github.com/monologue-go/monologue/wire"
)

// emittedSeeds are every kind of frame, and frames that carry invalid
// UTF-8 in each place a reply could echo it from.
var emittedSeeds = []string{
	`whoami`,
	`{"action":"loopback","payload":{"hello":"world"},"id":1}`,
	`{"action":"sendmessage","to":"B","payload":[1,2,3]}`,
	`{"to":"B","payload":"x","id":"q"}`,
	`{"to":"nobody","payload":1,"id":7}`,
	`{"action":"send","message":"hi"}`,
	`{"action":"send"}`,
	`{"action":"subscribe","channel":"c","id":2}`,
	`{"action":"unsubscribe","channel":"c"}`,
	`{"action":"publish","channel":"c","payload":{"n":1}}`,
	`{"action":"Loopback","id":3}`,
	`{"to":5}`,
	`[1]`,
	`hello`,
	"\xff",
	`{"action":"send","message":"` + "\xc3\x28" + `"}`,
	`{"action":"loopback","payload":"` + "\xed\xa0\x80" + `"}`,
	`{"action":"publish","channel":"c","payload":"` + "\xf0\x9f" + `"}`,
	`{"action":"nope` + "\xff" + `","id":"` + "\xe2\x82" + `"}`,
	`{"to":"B` + "\x80" + `","payload":1,"id":9}`,
	`{"action":"subscribe","channel":"` + "\xc0\xaf" + `","id":4}`,
	`{"action":"send","message":"\ud800"}`,
	`{"id":"\ud83c\udfd3","action":"x"}`,
}

// FuzzEmittedFrames: whatever a client sends, every frame the relay emits
// is valid UTF-8 and valid JSON, except the answer to whoami, which is the
// raw connection ID. The seed corpus runs in every test run; make fuzz
// explores further.
func FuzzEmittedFrames(f *testing.F) {
	for _, seed := range emittedSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		rec := relaytest.NewRecorder("A", "B")
		r := relay.New(relay.Options{Sender: rec, Channels: channels.NewMemory(0), MaxMessageSize: 512})
		for _, ev := range []relay.Event{
			{ConnectionID: "B", Route: wire.ActionSubscribe, Body: []byte(`{"action":"subscribe","channel":"c"}`)},
			{ConnectionID: "A", Route: wire.RouteDefault, Body: data},
		} {
			_ = r.Handle(ctx, ev)
		}
		if utf8.Valid(data) { // the HTTP endpoints refuse other bodies
			_ = r.Broadcast(ctx, "", "c", wire.BodyPayload(data))
		}
		for _, id := range []string{"A", "B"} {
			for _, frame := range rec.Take(id) {
				if frame == id && string(data) == wire.Whoami {
					continue
				}
				if !utf8.ValidString(frame) {
					t.Fatalf("input %q: frame to %s is not valid UTF-8: %q", data, id, frame)
				}
				if !json.Valid([]byte(frame)) {
					t.Fatalf("input %q: frame to %s is not JSON: %q", data, id, frame)
				}
			}
		}
	})
}
