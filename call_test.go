package monologue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// echoArgs answers with its raw arguments, as a JSON array.
func echoArgs(_ context.Context, req *monologue.Request) (any, error) {
	if req.Args == nil {
		return json.RawMessage("[]"), nil
	}
	return req.Args, nil
}

func TestCallArgumentsAndResults(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{})
	if server.ID() == "" || server.ID() == client.ID() {
		t.Fatalf("IDs %q and %q", server.ID(), client.ID())
	}
	if err := server.Handle("echo", echoArgs); err != nil {
		t.Fatal(err)
	}
	if err := server.Handle("sample-method", func(_ context.Context, req *monologue.Request) (any, error) {
		var a, b string
		if err := req.Bind(&a, &b); err != nil {
			return nil, err
		}
		return a + b, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var s string
	for _, method := range []string{"café \"quoted\"", "ünïcode/ŝlash"} {
		must(t, server.Handle(method, func(_ context.Context, req *monologue.Request) (any, error) { return req.Method, nil }))
		if err := client.Call(ctx, server.ID(), method, nil, &s); err != nil || s != method {
			t.Errorf("method %q: %q, %v", method, s, err)
		}
	}
	if err := client.Call(ctx, server.ID(), "sample-method", []any{"from", "machine1"}, &s); err != nil {
		t.Fatal(err)
	}
	if s != "frommachine1" {
		t.Errorf("sample-method returned %q", s)
	}

	type point struct {
		X int    `json:"x"`
		Y string `json:"y"`
	}
	tests := []struct {
		name string
		args []any
		want string // the echoed arguments, as JSON
	}{
		{name: "none", args: nil, want: `[]`},
		{name: "string", args: []any{"héllo \"quoted\"\n"}, want: `["héllo \"quoted\"\n"]`},
		{name: "numbers", args: []any{1, -2.5, int64(1) << 53, uint8(7), float32(0.1), 1e21, 1e-7},
			want: `[1,-2.5,9007199254740992,7,0.1,1e+21,1e-7]`},
		{name: "bools and null", args: []any{true, false, nil}, want: `[true,false,null]`},
		{name: "object", args: []any{map[string]any{"b": 1, "a": []int{1, 2}}}, want: `[{"a":[1,2],"b":1}]`},
		{name: "struct", args: []any{point{X: 3, Y: "z"}}, want: `[{"x":3,"y":"z"}]`},
		{name: "raw", args: []any{json.RawMessage(`{"k" : [1, 2]}`)}, want: `[{"k" : [1, 2]}]`},
		{name: "order", args: []any{"a", 1, "b", 2, "c"}, want: `["a",1,"b",2,"c"]`},
		{name: "nested", args: []any{[]any{"x", []string{"y"}}}, want: `[["x",["y"]]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if err := client.Call(ctx, server.ID(), "echo", tt.args, &raw); err != nil {
				t.Fatal(err)
			}
			if string(raw) != tt.want {
				t.Errorf("echo returned %s, want %s", raw, tt.want)
			}
		})
	}

	t.Run("typed results", func(t *testing.T) {
		var (
			n      float64
			b      bool
			anyVal any
			p      []point
		)
		if err := server.Handle("first", func(_ context.Context, req *monologue.Request) (any, error) {
			return req.Args[0], nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := client.Call(ctx, server.ID(), "first", []any{42.5}, &n); err != nil || n != 42.5 {
			t.Errorf("float: %v, %v", n, err)
		}
		if err := client.Call(ctx, server.ID(), "first", []any{true}, &b); err != nil || !b {
			t.Errorf("bool: %v, %v", b, err)
		}
		if err := client.Call(ctx, server.ID(), "first", []any{"s"}, &anyVal); err != nil || anyVal != "s" {
			t.Errorf("any: %v, %v", anyVal, err)
		}
		if err := client.Call(ctx, server.ID(), "echo", []any{point{1, "a"}}, &p); err != nil ||
			!reflect.DeepEqual(p, []point{{1, "a"}}) {
			t.Errorf("struct: %v, %v", p, err)
		}
		if err := client.Call(ctx, server.ID(), "first", []any{nil}, nil); err != nil {
			t.Errorf("nil result: %v", err)
		}
	})
}

func TestCallFailures(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{CallTimeout: 10 * time.Second})
	must(t, server.Handle("fail", func(context.Context, *monologue.Request) (any, error) {
		return nil, errors.New("disk on fire")
	}))
	must(t, server.Handle("panic", func(context.Context, *monologue.Request) (any, error) {
		panic("boom")
	}))
	must(t, server.Handle("bind", func(_ context.Context, req *monologue.Request) (any, error) {
		var n int
		return n, req.Bind(&n)
	}))
	ctx := context.Background()

	tests := []struct {
		name, to, method string
		args             []any
		want             error
		code, message    string // of the *RemoteError, when not empty
	}{
		{name: "handler error", to: server.ID(), method: "fail", want: monologue.ErrHandler,
			code: "handler_error", message: "disk on fire"},
		{name: "panic", to: server.ID(), method: "panic", want: monologue.ErrHandler,
			code: "handler_error", message: "handler panicked: boom"},
		{name: "bad argument", to: server.ID(), method: "bind", args: []any{"x"}, want: monologue.ErrHandler},
		{name: "missing argument", to: server.ID(), method: "bind", want: monologue.ErrHandler},
		{name: "unknown method", to: server.ID(), method: "nope", want: monologue.ErrNotFound,
			code: "not_found", message: `no handler for method "nope"`},
		{name: "never issued ID", to: "AAAAAAAAAAAAAAA=", method: "fail", want: monologue.ErrGone},
		{name: "empty ID", to: "", method: "fail", want: monologue.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := client.Call(ctx, tt.to, tt.method, tt.args, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error matching %v", err, tt.want)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v: should fail at once", elapsed)
			}
			if !strings.Contains(err.Error(), tt.method) {
				t.Errorf("error %q does not name the method", err)
			}
			var remote *monologue.RemoteError
			if tt.code != "" {
				if !errors.As(err, &remote) || remote.Code != tt.code || remote.Message != tt.message ||
					remote.Peer != tt.to || remote.Method != tt.method {
					t.Errorf("got %#v, want code %q message %q", remote, tt.code, tt.message)
				}
			}
		})
	}

	// The client and server are still fine.
	must(t, server.Handle("ok", func(context.Context, *monologue.Request) (any, error) { return "ok", nil }))
	var s string
	if err := client.Call(ctx, server.ID(), "ok", nil, &s); err != nil || s != "ok" {
		t.Fatalf("after failures: %q, %v", s, err)
	}
}

func TestCallGoneAfterClose(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{})
	id := server.ID()
	server.Close()
	eventually(t, "the gateway to forget the server", func() bool {
		_, ok := gw.Connection(id)
		return !ok
	})
	err := client.Call(context.Background(), id, "x", nil, nil)
	if !errors.Is(err, monologue.ErrGone) {
		t.Fatalf("got %v, want ErrGone", err)
	}
}

func TestCallTimeout(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{CallTimeout: 200 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	must(t, server.Handle("block", func(ctx context.Context, _ *monologue.Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}))

	t.Run("CallTimeout", func(t *testing.T) {
		start := time.Now()
		err := client.Call(context.Background(), server.ID(), "block", nil, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "no reply within 200ms") {
			t.Errorf("unclear message: %v", err)
		}
		if elapsed := time.Since(start); elapsed < 200*time.Millisecond || elapsed > 3*time.Second {
			t.Errorf("timed out after %v", elapsed)
		}
	})
	t.Run("earlier ctx deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := client.Call(ctx, server.ID(), "block", nil, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed > 190*time.Millisecond {
			t.Errorf("ctx deadline not applied: %v", elapsed)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		err := client.Call(ctx, server.ID(), "block", nil, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want Canceled", err)
		}
	})
}

func TestConcurrentCalls(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{})
	must(t, server.Handle("mul", func(_ context.Context, req *monologue.Request) (any, error) {
		var a, b int
		var tag string
		if err := req.Bind(&a, &b, &tag); err != nil {
			return nil, err
		}
		return map[string]any{"product": a * b, "tag": tag}, nil
	}))
	const calls = 1000
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			var got struct {
				Product int    `json:"product"`
				Tag     string `json:"tag"`
			}
			tag := fmt.Sprintf("call-%d", i)
			if err := client.Call(context.Background(), server.ID(), "mul", []any{i, 3, tag}, &got); err != nil {
				errs <- err
				return
			}
			if got.Product != i*3 || got.Tag != tag {
				errs <- fmt.Errorf("call %d got %+v", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMaxHandlers(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	c := gw.dial(t, monologue.Options{MaxHandlers: 3})
	noop := func(context.Context, *monologue.Request) (any, error) { return nil, nil }
	for i := range 3 {
		must(t, c.Handle(fmt.Sprint("m", i), noop))
	}
	if err := c.Handle("m3", noop); !errors.Is(err, monologue.ErrTooManyHandlers) {
		t.Fatalf("4th handler: %v, want ErrTooManyHandlers", err)
	}
	must(t, c.Handle("m0", noop)) // replacing is fine
	must(t, c.Handle("m1", nil))  // removing frees a place
	must(t, c.Handle("m3", noop)) // so this fits
	if err := c.Handle("", noop); err == nil {
		t.Error("empty method name accepted")
	}
}

func TestMaxConcurrentHandlers(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{MaxConcurrentHandlers: 1})
	client := gw.dial(t, monologue.Options{})
	release := make(chan struct{})
	started := make(chan struct{})
	must(t, server.Handle("block", func(ctx context.Context, _ *monologue.Request) (any, error) {
		close(started)
		<-release
		return "done", nil
	}))
	first := make(chan error, 1)
	go func() { first <- client.Call(context.Background(), server.ID(), "block", nil, nil) }()
	receive(t, started, "the first call to start")
	err := client.Call(context.Background(), server.ID(), "block", nil, nil)
	if !errors.Is(err, monologue.ErrRateLimited) {
		t.Errorf("second call: %v, want ErrRateLimited", err)
	}
	close(release)
	if err := receive(t, first, "the first call"); err != nil {
		t.Errorf("first call: %v", err)
	}
}

func TestFallback(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{Fallback: func(_ context.Context, req *monologue.Request) (any, error) {
		if req.Method == "missing" {
			return nil, monologue.ErrNotFound
		}
		return "fallback:" + req.Method, nil
	}})
	client := gw.dial(t, monologue.Options{})
	var s string
	if err := client.Call(context.Background(), server.ID(), "anything", nil, &s); err != nil || s != "fallback:anything" {
		t.Errorf("got %q, %v", s, err)
	}
	if err := client.Call(context.Background(), server.ID(), "missing", nil, nil); !errors.Is(err, monologue.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLargeFrames(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages, onMessage := inbox()
	// Chunking off: over the limit, operations fail (chunk_test.go has them
	// sent in parts).
	server := gw.dial(t, monologue.Options{OnMessage: onMessage, ChunkBudget: -1})
	client := gw.dial(t, monologue.Options{ChunkBudget: -1})
	must(t, server.Handle("repeat", func(_ context.Context, req *monologue.Request) (any, error) {
		var s string
		var n int
		if err := req.Bind(&s, &n); err != nil {
			return nil, err
		}
		return strings.Repeat(s, n), nil
	}))
	ctx := context.Background()

	// Up to the limit, large frames go through (and are read in pieces).
	big := strings.Repeat("x", 100<<10)
	var s string
	if err := client.Call(ctx, server.ID(), "repeat", []any{big, 1}, &s); err != nil || s != big {
		t.Fatalf("100 KiB round trip: %d bytes, %v", len(s), err)
	}
	must(t, client.Send(ctx, server.ID(), big))
	if m := receive(t, messages, "the large message"); len(m.Payload) != len(big)+2 {
		t.Errorf("large message: %d bytes", len(m.Payload))
	}

	// Over it, the client refuses the frame instead of having the gateway
	// close the connection.
	err := client.Call(ctx, server.ID(), "repeat", []any{strings.Repeat("x", 130<<10), 1}, nil)
	if !errors.Is(err, monologue.ErrPayloadTooLarge) {
		t.Errorf("large arguments: %v, want ErrPayloadTooLarge", err)
	}
	if err := client.Send(ctx, server.ID(), strings.Repeat("x", 130<<10)); !errors.Is(err, monologue.ErrPayloadTooLarge) {
		t.Errorf("large message: %v, want ErrPayloadTooLarge", err)
	}
	// A result over the limit is answered with payload_too_large at once.
	err = client.Call(ctx, server.ID(), "repeat", []any{"abcd", 40 << 10}, nil)
	var remote *monologue.RemoteError
	if !errors.Is(err, monologue.ErrPayloadTooLarge) || !errors.As(err, &remote) {
		t.Errorf("large result: %v, want a RemoteError matching ErrPayloadTooLarge", err)
	} else {
		t.Log(err)
	}
	// The connection survived all of this.
	if err := client.Call(ctx, server.ID(), "repeat", []any{"ok", 1}, &s); err != nil || s != "ok" {
		t.Errorf("after the large frames: %q, %v", s, err)
	}
}
