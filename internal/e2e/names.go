package e2e

import (
	"github.com/monologue-go/monologue/internal/poll"

	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var nameTests = []test{
	{"names_claim_release", testClaimRelease},
	{"names_bad_name", testBadName},
	{"names_message_to_name", testMessageToName},
	{"names_load_balanced", testNameLoadBalanced},
	{"names_exclusive_takeover", testExclusiveTakeover},
	{"names_takeover_race", testTakeoverRace},
	{"names_released_on_close", testNameReleasedOnClose},
	{"names_limit", testNameLimit},
	{"presence_channel", testPresenceChannel},
	{"presence_name", testPresenceName},
	{"presence_bad_request", testPresenceBadRequest},
	{"presence_events", testPresenceEvents},
}

func claim(t *testing.T, c *conn, name string) {
	t.Helper()
	c.expect(t, `{"action":"claim","name":`+q(name)+`}`, `{"action":"claimed","name":`+q(name)+`}`)
}

func testClaimRelease(t *testing.T, e *env) {
	a := e.dial(t)
	n := unique(t, "billing")
	a.expect(t, `{"action":"claim","name":`+q(n)+`,"id":1}`, `{"action":"claimed","name":`+q(n)+`,"id":1}`)
	a.expect(t, `{"action":"claim","name":`+q(n)+`,"id":"again"}`, `{"action":"claimed","name":`+q(n)+`,"id":"again"}`)
	a.expect(t, `{"action":"release","name":`+q(n)+`,"id":2}`, `{"action":"released","name":`+q(n)+`,"id":2}`)
	a.expect(t, `{"action":"release","name":`+q(n)+`}`, `{"action":"released","name":`+q(n)+`}`)
	a.expectNothingPending(t, "claim and release answer once each")
}

func testBadName(t *testing.T, e *env) {
	a := e.dial(t)
	for _, bad := range []string{`""`, `"-starts-with-dash"`, `"has space"`, `"` + strings.Repeat("x", 129) + `"`, `"é"`, `42`} {
		for _, action := range []string{"claim", "release"} {
			a.expectError(t, `{"action":"`+action+`","name":`+bad+`,"id":7}`, errorWant{code: "bad_request", id: "7"})
		}
		if name := strings.Trim(bad, `"`); bad != name { // a string: "@" and it is no name either
			a.expectError(t, `{"to":"@`+name+`","payload":1,"id":8}`, errorWant{code: "bad_request", id: "8", to: "@" + name})
		}
	}
	a.expectError(t, `{"action":"claim","name":"ok","exclusive":"yes","id":9}`, errorWant{code: "bad_request", id: "9"})
	a.expectError(t, `{"action":"claim","id":10}`, errorWant{code: "bad_request", id: "10"})
	okName := strings.Repeat("a", 128)
	claim(t, a, okName)
	claim(t, a, "0.a_b-c:d/e")
}

func testMessageToName(t *testing.T, e *env) {
	a, b := pair(t, e)
	n := unique(t, "svc")
	to := "@" + n
	b.expectError(t, `{"to":`+q(to)+`,"payload":1,"id":1}`, errorWant{code: "gone", id: "1", to: to})
	claim(t, a, n)
	b.send(t, `{"action":"sendmessage","to":`+q(to)+`,"payload":{"x":[1,2]}}`)
	a.expectFrame(t, "a message to "+to, `{"to":`+q(a.id)+`,"from":`+q(b.id)+`,"via":`+q(to)+`,"payload":{"x":[1,2]}}`)
	b.send(t, `{"to":`+q(to)+`,"payload":"default route"}`)
	a.expectFrame(t, "a message to "+to+" on $default", `{"to":`+q(a.id)+`,"from":`+q(b.id)+`,"via":`+q(to)+`,"payload":"default route"}`)
	b.expectNothingPending(t, "a message to a held name has no reply")
	// The answer goes back by ID, as RPC does.
	a.send(t, `{"to":`+q(b.id)+`,"payload":"back"}`)
	b.expectFrame(t, "the answer by ID", `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":"back"}`)
}

func testNameLoadBalanced(t *testing.T, e *env) {
	n := unique(t, "pool")
	holders := []*conn{e.dial(t), e.dial(t), e.dial(t)}
	for _, h := range holders {
		h.ID(t)
		claim(t, h, n)
	}
	sender := e.dial(t)
	sender.ID(t)
	const messages = 60
	for i := range messages {
		sender.send(t, `{"to":"@`+n+`","payload":`+strconv.Itoa(i)+`}`)
	}
	sender.expectNothingPending(t, "every message found a holder")
	seen := map[int]int{}
	got := make([]int, len(holders))
	for i, h := range holders {
		for {
			h.send(t, "whoami")
			f := h.read(t, "messages to the name, then whoami")
			if f == h.id {
				break
			}
			var m struct {
				To, From, Via string
				Payload       int
			}
			if err := json.Unmarshal([]byte(f), &m); err != nil || m.To != h.id || m.Via != "@"+n || m.From != sender.id {
				t.Fatalf("holder %d received %s", i, f)
			}
			seen[m.Payload]++
			got[i]++
		}
	}
	for i := range messages {
		if seen[i] != 1 {
			t.Fatalf("message %d delivered %d times, want exactly once (per holder: %v)", i, seen[i], got)
		}
	}
	for i, n := range got {
		if n == 0 {
			t.Fatalf("holder %d received none of %d messages (per holder: %v): not spread", i, messages, got)
		}
	}
}

func testExclusiveTakeover(t *testing.T, e *env) {
	a, b := pair(t, e)
	n := unique(t, "worker-7")
	claim(t, a, n)
	b.expect(t, `{"action":"claim","name":`+q(n)+`,"exclusive":true,"id":"take"}`, `{"action":"claimed","name":`+q(n)+`,"id":"take"}`)
	a.expectFrame(t, "the takeover", `{"action":"released","name":`+q(n)+`}`)
	c := e.dial(t)
	c.expect(t, `{"action":"presence","name":`+q(n)+`}`, `{"action":"presence","name":`+q(n)+`,"count":1,"members":[`+q(b.id)+`]}`)
	c.send(t, `{"to":"@`+n+`","payload":1}`)
	b.expectFrame(t, "the message to the name", `{"to":`+q(b.id)+`,"from":`+q(c.ID(t))+`,"via":"@`+n+`","payload":1}`)
	a.expectNothingPending(t, "the old holder gets nothing more")
}

func testTakeoverRace(t *testing.T, e *env) {
	for round := range 5 {
		n := unique(t, fmt.Sprintf("leader-%d", round))
		a, b := pair(t, e)
		var wg sync.WaitGroup
		for _, c := range []*conn{a, b} {
			wg.Go(func() { c.send(t, `{"action":"claim","name":`+q(n)+`,"exclusive":true}`) })
		}
		wg.Wait()
		// Each gets its claimed reply; exactly one holds the name after,
		// and the other was told released. Both claimed replies come first:
		// the relay tells the loser before it answers the winner, so once
		// both have answered, the loser's notice is on its way before
		// whatever it is asked next.
		claimed := `{"action":"claimed","name":` + q(n) + `}`
		releasedFrame := `{"action":"released","name":` + q(n) + `}`
		seen := map[*conn][]string{}
		for _, c := range []*conn{a, b} {
			for !slices.Contains(seen[c], claimed) {
				seen[c] = append(seen[c], c.read(t, "racing claim"))
			}
		}
		released := 0
		for _, c := range []*conn{a, b} {
			c.send(t, "whoami")
			for f := c.read(t, "whoami after the race"); f != c.id; f = c.read(t, "whoami after the race") {
				seen[c] = append(seen[c], f)
			}
			for _, f := range seen[c] {
				switch f {
				case claimed:
				case releasedFrame:
					released++
				default:
					t.Fatalf("%s: unexpected frame in the race: %s", c.label(), f)
				}
			}
		}
		c := e.dial(t)
		c.send(t, `{"action":"presence","name":`+q(n)+`}`)
		var p struct {
			Count   int
			Members []string
		}
		if err := json.Unmarshal([]byte(c.read(t, "presence of the raced name")), &p); err != nil || p.Count != 1 || len(p.Members) != 1 {
			t.Fatalf("round %d: after a takeover race, presence is %+v; want exactly one holder", round, p)
		}
		if released != 1 {
			t.Fatalf("round %d: %d of the two racers were told released, want 1", round, released)
		}
	}
}

func testNameReleasedOnClose(t *testing.T, e *env) {
	a, b := pair(t, e)
	n := unique(t, "ephemeral")
	claim(t, a, n)
	a.close()
	poll.Until(t, frameTimeout, func() string {
		b.send(t, `{"to":"@`+n+`","payload":1,"id":5}`)
		got := b.read(t, "a message to the closed holder's name")
		if problem := checkError(got, errorWant{code: "gone", id: "5", to: "@" + n}); problem != "" {
			return "the name still has a holder: " + got
		}
		return ""
	})
}

func testNameLimit(t *testing.T, e *env) {
	a := e.dial(t)
	const max = 64
	for i := range max {
		a.send(t, `{"action":"claim","name":"`+unique(t, strconv.Itoa(i))+`"}`)
	}
	for i := range max {
		if got := a.read(t, "claims up to the limit"); !strings.HasPrefix(got, `{"action":"claimed"`) {
			t.Fatalf("claim %d of %d: %s", i+1, max, got)
		}
	}
	a.expectError(t, `{"action":"claim","name":"`+unique(t, "one-more")+`","id":1}`, errorWant{code: "limit_exceeded", id: "1"})
	claim(t, a, unique(t, "0")) // held already
	a.expect(t, `{"action":"release","name":"`+unique(t, "0")+`"}`, `{"action":"released","name":"`+unique(t, "0")+`"}`)
	claim(t, a, unique(t, "one-more"))
}

// presenceOf asks for the presence of a channel or name and returns the
// count and the sorted members.
func presenceOf(t *testing.T, c *conn, field, key string) (int, []string) {
	t.Helper()
	req := `{"action":"presence","` + field + `":` + q(key) + `,"id":"p"}`
	c.send(t, req)
	got := c.read(t, req)
	var p struct {
		Action  string
		Count   int
		Members []string
		ID      string
		Channel string
		Name    string
	}
	if err := json.Unmarshal([]byte(got), &p); err != nil || p.Action != "presence" || p.ID != "p" || (field == "channel" && p.Channel != key) || (field == "name" && p.Name != key) {
		t.Fatalf("%s: presence reply\n  sent: %s\n   got: %s", c.label(), req, got)
	}
	slices.Sort(p.Members)
	return p.Count, p.Members
}

func testPresenceChannel(t *testing.T, e *env) {
	a, b := pair(t, e)
	c := e.dial(t)
	ch := unique(t, "room")
	if n, members := presenceOf(t, c, "channel", ch); n != 0 || len(members) != 0 {
		t.Fatalf("empty channel: count %d, members %v", n, members)
	}
	subscribe(t, a, ch)
	subscribe(t, b, ch)
	want := []string{a.id, b.id}
	slices.Sort(want)
	if n, members := presenceOf(t, c, "channel", ch); n != 2 || !slices.Equal(members, want) {
		t.Fatalf("count %d, members %v; want 2, %v", n, members, want)
	}
	unsubscribe(t, a, ch)
	if n, members := presenceOf(t, c, "channel", ch); n != 1 || !slices.Equal(members, []string{b.id}) {
		t.Fatalf("after a leaves: count %d, members %v", n, members)
	}
}

func testPresenceName(t *testing.T, e *env) {
	a, b := pair(t, e)
	c := e.dial(t)
	n := unique(t, "group")
	claim(t, a, n)
	claim(t, b, n)
	want := []string{a.id, b.id}
	slices.Sort(want)
	if count, members := presenceOf(t, c, "name", n); count != 2 || !slices.Equal(members, want) {
		t.Fatalf("count %d, members %v; want 2, %v", count, members, want)
	}
}

func testPresenceBadRequest(t *testing.T, e *env) {
	a := e.dial(t)
	a.expectError(t, `{"action":"presence","id":1}`, errorWant{code: "bad_request", id: "1"})
	a.expectError(t, `{"action":"presence","channel":"c","name":"n","id":2}`, errorWant{code: "bad_request", id: "2"})
	a.expectError(t, `{"action":"presence","name":"bad name","id":3}`, errorWant{code: "bad_request", id: "3"})
	a.expectError(t, `{"action":"subscribe","channel":"c","presence":1,"id":4}`, errorWant{code: "bad_request", id: "4"})
}

func testPresenceEvents(t *testing.T, e *env) {
	w := e.dial(t)
	w.name = "watcher"
	ch := unique(t, "lobby")
	w.expect(t, `{"action":"subscribe","channel":`+q(ch)+`,"presence":true,"id":1}`, `{"action":"subscribed","channel":`+q(ch)+`,"id":1}`)
	b := e.dial(t)
	b.name = "b"
	bid := b.ID(t)
	subscribe(t, b, ch)
	w.expectFrame(t, "b subscribes", `{"channel":`+q(ch)+`,"joined":`+q(bid)+`}`)
	unsubscribe(t, b, ch)
	w.expectFrame(t, "b unsubscribes", `{"channel":`+q(ch)+`,"left":`+q(bid)+`}`)
	c := e.dial(t)
	c.name = "c"
	cid := c.ID(t)
	subscribe(t, c, ch)
	w.expectFrame(t, "c subscribes", `{"channel":`+q(ch)+`,"joined":`+q(cid)+`}`)
	c.close()
	w.expectFrame(t, "c disconnects", `{"channel":`+q(ch)+`,"left":`+q(cid)+`}`)
	// The watcher is a member too, and hears nothing of itself; a plain
	// subscriber hears no presence events.
	p := e.dial(t)
	subscribe(t, p, ch)
	w.expectFrame(t, "p subscribes", `{"channel":`+q(ch)+`,"joined":`+q(p.ID(t))+`}`)
	d := e.dial(t)
	subscribe(t, d, ch)
	w.expectFrame(t, "d subscribes", `{"channel":`+q(ch)+`,"joined":`+q(d.ID(t))+`}`)
	p.expectNothingPending(t, "a subscriber without presence gets no events")
	w.expectNothingPending(t, "one event each")
}
