package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

var channelTests = []test{
	{"subscribe_reply", testSubscribeReply},
	{"publish_fanout", testPublishFanout},
	{"publish_payloads", testPublishPayloads},
	{"publish_no_reply", testPublishNoReply},
	{"subscribe_twice", testSubscribeTwice},
	{"unsubscribe_stops_delivery", testUnsubscribeStopsDelivery},
	{"channels_independent", testChannelsIndependent},
	{"subscriber_disconnects", testSubscriberDisconnects},
	{"http_publish", testHTTPPublish},
}

func subscribe(t *testing.T, c *conn, channel string) {
	t.Helper()
	c.expect(t, `{"action":"subscribe","channel":`+q(channel)+`}`, `{"action":"subscribed","channel":`+q(channel)+`}`)
}

func unsubscribe(t *testing.T, c *conn, channel string) {
	t.Helper()
	c.expect(t, `{"action":"unsubscribe","channel":`+q(channel)+`}`, `{"action":"unsubscribed","channel":`+q(channel)+`}`)
}

// expectJSON sends req and checks that the next frame is JSON with exactly
// the fields of want (any order), each equal byte for byte.
func (c *conn) expectJSON(t *testing.T, req string, want map[string]string) {
	t.Helper()
	c.send(t, req)
	got := c.read(t, req)
	var fields map[string]json.RawMessage
	wantText, _ := json.Marshal(want)
	fail := func(problem string) {
		t.Helper()
		t.Fatalf("%s: %s\n  sent: %s\n  want fields (raw JSON values): %s\n   got: %s", c.label(), problem, req, wantText, got)
	}
	if err := json.Unmarshal([]byte(got), &fields); err != nil {
		fail("not a JSON object")
	}
	for k, v := range want {
		if raw, ok := fields[k]; !ok {
			fail("missing " + q(k))
		} else if string(raw) != v {
			fail(q(k) + " is " + string(raw))
		}
	}
	for k := range fields {
		if _, ok := want[k]; !ok {
			fail("unexpected field " + q(k))
		}
	}
}

func testSubscribeReply(t *testing.T, e *env) {
	c := e.dial(t)
	ch := unique(t, "ch")
	subscribe(t, c, ch)
	unsubscribe(t, c, ch)
	for _, id := range []string{`"sub-1"`, `17`, `-2.5`} {
		c.expectJSON(t, `{"action":"subscribe","channel":`+q(ch)+`,"id":`+id+`}`,
			map[string]string{"action": `"subscribed"`, "channel": q(ch), "id": id})
		c.expectJSON(t, `{"id":`+id+`,"action":"unsubscribe","channel":`+q(ch)+`}`,
			map[string]string{"action": `"unsubscribed"`, "channel": q(ch), "id": id})
	}
	t.Run("unsubscribe_never_subscribed", func(t *testing.T) {
		unsubscribe(t, c, unique(t, "never"))
	})
	t.Run("unicode_channel", func(t *testing.T) {
		subscribe(t, c, unique(t, "cañón ✓"))
	})
}

func testPublishFanout(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a, b, c, d := e.dial(t), e.dial(t), e.dial(t), e.dial(t)
	a.name, b.name, c.name, d.name = "a (publisher)", "b", "c", "d (not subscribed)"
	for _, s := range []*conn{a, b, c} {
		subscribe(t, s, ch)
	}
	req := `{"action":"publish","channel":` + q(ch) + `,"payload":{"n":1}}`
	a.send(t, req)
	want := `{"channel":` + q(ch) + `,"from":` + q(a.ID(t)) + `,"payload":{"n":1}}`
	b.expectFrame(t, "a: "+req, want)
	c.expectFrame(t, "a: "+req, want)
	a.expectNothingPending(t, "the publisher does not receive its own publish")
	d.expectNothingPending(t, "a connection not subscribed receives nothing")
	b.expectNothingPending(t, "a subscriber receives a publish once")
}

func testPublishPayloads(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a, b := pair(t, e)
	subscribe(t, b, ch)
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			req := `{"action":"publish","channel":` + q(ch) + `,"payload":` + p.json + `}`
			a.send(t, req)
			b.expectFrame(t, "a: "+req, `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":`+p.json+`}`)
		})
	}
	t.Run("no_payload", func(t *testing.T) {
		req := `{"action":"publish","channel":` + q(ch) + `}`
		a.send(t, req)
		b.expectFrame(t, "a: "+req, `{"channel":`+q(ch)+`,"from":`+q(a.id)+`}`)
	})
}

func testPublishNoReply(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a := e.dial(t)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":1,"id":"p1"}`)
	a.expectNothingPending(t, "publish to a channel with no subscribers has no reply")
	b := e.dial(t)
	subscribe(t, b, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":2,"id":"p2"}`)
	a.expectNothingPending(t, "publish has no reply on success")
	b.expectFrame(t, "a: publish", `{"channel":`+q(ch)+`,"from":`+q(a.ID(t))+`,"payload":2}`)
}

func testSubscribeTwice(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a, b := pair(t, e)
	subscribe(t, b, ch)
	subscribe(t, b, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":1}`)
	b.expectFrame(t, "a: publish", `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":1}`)
	a.expectNothingPending(t, "publish is finished")
	b.expectNothingPending(t, "subscribing twice delivers once")
	unsubscribe(t, b, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":2}`)
	a.expectNothingPending(t, "publish is finished")
	b.expectNothingPending(t, "one unsubscribe undoes two subscribes")
}

func testUnsubscribeStopsDelivery(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a, b := pair(t, e)
	c := e.dial(t)
	c.name = "c"
	subscribe(t, b, ch)
	subscribe(t, c, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":"before"}`)
	b.expectFrame(t, "a: publish before", `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":"before"}`)
	c.expectFrame(t, "a: publish before", `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":"before"}`)
	unsubscribe(t, b, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":"after"}`)
	c.expectFrame(t, "a: publish after", `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":"after"}`)
	a.expectNothingPending(t, "publish is finished")
	b.expectNothingPending(t, "an unsubscribed connection receives nothing")
	// Subscribing again works.
	subscribe(t, b, ch)
	a.send(t, `{"action":"publish","channel":`+q(ch)+`,"payload":"again"}`)
	b.expectFrame(t, "a: publish again", `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":"again"}`)
}

func testChannelsIndependent(t *testing.T, e *env) {
	ch1, ch2 := unique(t, "one"), unique(t, "two")
	a, b := pair(t, e)
	subscribe(t, b, ch1)
	a.send(t, `{"action":"publish","channel":`+q(ch2)+`,"payload":2}`)
	a.send(t, `{"action":"publish","channel":`+q(ch1)+`,"payload":1}`)
	b.expectFrame(t, "a: publish to two, then to one", `{"channel":`+q(ch1)+`,"from":`+q(a.id)+`,"payload":1}`)
	a.expectNothingPending(t, "publish is finished")
	b.expectNothingPending(t, "a subscriber of one channel receives nothing from another")
}

func testSubscriberDisconnects(t *testing.T, e *env) {
	ch := unique(t, "ch")
	a, b := pair(t, e)
	c := e.dial(t)
	c.name = "c (disconnects)"
	subscribe(t, b, ch)
	subscribe(t, c, ch)
	c.close()
	for i, p := range []string{`"first"`, `"second"`} {
		req := `{"action":"publish","channel":` + q(ch) + `,"payload":` + p + `,"id":` + strconv.Itoa(i) + `}`
		a.send(t, req)
		b.expectFrame(t, "a: "+req, `{"channel":`+q(ch)+`,"from":`+q(a.id)+`,"payload":`+p+`}`)
		a.expectNothingPending(t, "publishing to a channel with a closed subscriber has no reply")
	}
}

// httpDo makes a request and returns status, headers and body.
func (e *env) httpDo(t *testing.T, method, url string, header http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func testHTTPPublish(t *testing.T, e *env) {
	ch := unique(t, "ch")
	b := e.dial(t)
	b.name = "b (subscriber)"
	subscribe(t, b, ch)
	endpoint := e.publicURL(b) + "/channels/" + url.PathEscape(ch)
	key := http.Header{"X-Api-Key": {e.APIKey}, "Content-Type": {"application/json"}}
	post := func(t *testing.T, header http.Header, body string) int {
		t.Helper()
		status, _, resp := e.httpDo(t, http.MethodPost, endpoint, header, body)
		if status < 200 || status > 299 {
			t.Fatalf("POST %s with body %s: status %d, want 2xx (body: %s)", endpoint, body, status, resp)
		}
		return status
	}
	t.Run("json_body", func(t *testing.T) {
		body := `{"z":1, "a":[true,12345678901234567890123]}`
		post(t, key, body)
		b.expectFrame(t, "POST "+endpoint+" "+body, `{"channel":`+q(ch)+`,"payload":`+body+`}`)
	})
	t.Run("json_scalar_body", func(t *testing.T) {
		post(t, key, `42`)
		b.expectFrame(t, "POST "+endpoint+" 42", `{"channel":`+q(ch)+`,"payload":42}`)
	})
	t.Run("text_body", func(t *testing.T) {
		body := "plain text, not JSON"
		post(t, http.Header{"X-Api-Key": {e.APIKey}, "Content-Type": {"text/plain"}}, body)
		b.expectFrame(t, "POST "+endpoint+" "+body, `{"channel":`+q(ch)+`,"payload":"plain text, not JSON"}`)
	})
	t.Run("text_body_with_quotes", func(t *testing.T) {
		body := "say \"hi\"\nthen {leave"
		post(t, http.Header{"X-Api-Key": {e.APIKey}, "Content-Type": {"text/plain"}}, body)
		got := b.read(t, "POST "+endpoint+" "+body)
		var f struct {
			Channel string  `json:"channel"`
			From    *string `json:"from"`
			Payload *string `json:"payload"`
		}
		if err := json.Unmarshal([]byte(got), &f); err != nil || f.Channel != ch || f.From != nil || f.Payload == nil || *f.Payload != body {
			t.Fatalf("POST %s with a text body: want {\"channel\":%s,\"payload\":%s}, got %s", endpoint, q(ch), q(body), got)
		}
	})
	t.Run("no_key", func(t *testing.T) {
		for _, header := range []http.Header{{}, {"X-Api-Key": {"wrong-" + e.APIKey}}} {
			status, _, resp := e.httpDo(t, http.MethodPost, endpoint, header, `"no key"`)
			if status != http.StatusForbidden {
				t.Fatalf("POST %s with x-api-key %q: status %d, want 403 (body: %s)", endpoint, header.Get("X-Api-Key"), status, resp)
			}
		}
		b.expectNothingPending(t, "a publish without the API key is not delivered")
	})
}
