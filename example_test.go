package monologue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// exampleGateway starts a gateway for the examples, as `monologue serve`
// would, and returns its endpoint and a function that stops it.
func exampleGateway() (endpoint string, stop func()) {
	gw, err := gateway.New(gateway.Options{APIKeys: []string{"secret"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	server := httptest.NewServer(gw.Handler())
	return "ws" + strings.TrimPrefix(server.URL, "http") + "/", func() {
		server.Close()
		_ = gw.Shutdown(context.Background())
	}
}

// Two machines: one answers a method, the other calls it.
func Example() {
	endpoint, stop := exampleGateway()
	defer stop()
	ctx := context.Background()
	opts := &monologue.Options{Endpoint: endpoint, APIKey: "secret"}

	m1, err := monologue.Dial(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer m1.Close()
	err = m1.Handle("sample-method", func(ctx context.Context, req *monologue.Request) (any, error) {
		var a, b string
		if err := req.Bind(&a, &b); err != nil {
			return nil, err
		}
		return a + b, nil
	})
	if err != nil {
		log.Fatal(err)
	}

	m2, err := monologue.Dial(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer m2.Close()
	var s string
	if err := m2.Call(ctx, m1.ID(), "sample-method", []any{"from", "machine1"}, &s); err != nil {
		log.Fatal(err)
	}
	fmt.Println(s)

	err = m2.Call(ctx, m1.ID(), "no-such-method", nil, nil)
	fmt.Println(errors.Is(err, monologue.ErrNotFound))
	// Output:
	// frommachine1
	// true
}

// Channels: a subscriber receives what others publish.
func ExampleClient_Subscribe() {
	endpoint, stop := exampleGateway()
	defer stop()
	ctx := context.Background()

	received := make(chan monologue.Message, 1)
	subscriber, err := monologue.Dial(ctx, &monologue.Options{
		Endpoint:  endpoint,
		APIKey:    "secret",
		OnMessage: func(m monologue.Message) { received <- m },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer subscriber.Close()
	if err := subscriber.Subscribe(ctx, "news"); err != nil {
		log.Fatal(err)
	}

	publisher, err := monologue.Dial(ctx, &monologue.Options{Endpoint: endpoint, APIKey: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer publisher.Close()
	if err := publisher.Publish(ctx, "news", map[string]string{"headline": "hello"}); err != nil {
		log.Fatal(err)
	}

	m := <-received
	fmt.Println(m.Channel, string(m.Payload), m.From == publisher.ID())
	// Output: news {"headline":"hello"} true
}

// A call to a peer that is not connected fails at once.
func ExampleClient_Call_gone() {
	endpoint, stop := exampleGateway()
	defer stop()
	ctx := context.Background()
	c, err := monologue.Dial(ctx, &monologue.Options{Endpoint: endpoint, APIKey: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Call(ctx, "AtuLLemUPHcCItg=", "anything", nil, nil)
	fmt.Println(errors.Is(err, monologue.ErrGone))
	// Output: true
}
