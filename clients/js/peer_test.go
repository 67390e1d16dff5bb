package jsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// goPeerName is the name the Go peer claims: the node tests call it at
// "@go-peer".
const goPeerName = "go-peer"

// goPeer is a Go client on the gateway, for the node tests to call and to
// have call them, by its ID or by its name.
type goPeer struct {
	client   *monologue.Client
	messages chan monologue.Message
}

func startPeer(t *testing.T, endpoint, key string) *goPeer {
	t.Helper()
	p := &goPeer{messages: make(chan monologue.Message, 64)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := monologue.Dial(ctx, &monologue.Options{
		Endpoint:  endpoint,
		APIKey:    key,
		Name:      goPeerName,
		Logger:    slog.New(slog.DiscardHandler),
		OnMessage: func(m monologue.Message) { p.messages <- m },
		OnError:   func(error) {},
	})
	if err != nil {
		t.Fatalf("the Go peer: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	p.client = client
	handlers := map[string]monologue.HandlerFunc{
		// echo answers with its arguments, as an array.
		"echo": func(_ context.Context, req *monologue.Request) (any, error) {
			if req.Args == nil {
				return json.RawMessage("[]"), nil
			}
			return req.Args, nil
		},
		"concat": func(_ context.Context, req *monologue.Request) (any, error) {
			var a, b string
			if err := req.Bind(&a, &b); err != nil {
				return nil, err
			}
			return a + b, nil
		},
		"length": func(_ context.Context, req *monologue.Request) (any, error) {
			var s string
			err := req.Bind(&s)
			return len(s), err
		},
		"fail": func(context.Context, *monologue.Request) (any, error) {
			return nil, errors.New("the Go handler failed on purpose")
		},
		"caller": func(_ context.Context, req *monologue.Request) (any, error) { return req.From, nil },
	}
	for name, fn := range handlers {
		if err := client.Handle(name, fn); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// bigString is n bytes of text that changes along its length; the node
// tests build the same (test/helpers.ts).
func bigString(n int) string {
	b := make([]byte, 0, n+16)
	for i := 0; len(b) < n; i++ {
		start := len(b)
		b = append(b, "00000000"...)
		digits := strconv.AppendInt(nil, int64(i), 10)
		copy(b[start+max(0, 8-len(digits)):], digits)
		b = append(b, '.')
	}
	return string(b[:n])
}

// controlError is how the control server reports the error of an operation.
type controlError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorOf(err error) *controlError {
	var remote *monologue.RemoteError
	var wireErr *wire.Error
	code := "error"
	switch {
	case errors.As(err, &remote):
		code = remote.Code
	case errors.Is(err, monologue.ErrChunkingUnsupported):
		code = "chunking_unsupported"
	case errors.As(err, &wireErr):
		code = string(wireErr.Code)
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	}
	return &controlError{Code: code, Message: err.Error()}
}

// startControl serves what the node tests ask of the Go side:
//
//	POST /call    {to, method, args, bigArg, timeoutMs} → {result} | {length, same} | {error}
//	POST /send    {to, payload, bigPayload}             → {} | {error}
//	GET  /message ?timeoutMs=                           → {from, channel, via, payload, bytes} (404: none)
//	POST /restart {key}                                 → {}: the restartable gateway, with only that key
func startControl(t *testing.T, p *goPeer, restart *restartable) string {
	t.Helper()
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To        string            `json:"to"`
			Method    string            `json:"method"`
			Args      []json.RawMessage `json:"args"`
			BigArg    int               `json:"bigArg"`
			TimeoutMs int               `json:"timeoutMs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		args := make([]any, 0, len(req.Args)+1)
		for _, a := range req.Args {
			args = append(args, a)
		}
		var big string
		if req.BigArg > 0 {
			big = bigString(req.BigArg)
			args = append(args, big)
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(max(req.TimeoutMs, 100))*time.Millisecond)
		defer cancel()
		var result json.RawMessage
		if err := p.client.Call(ctx, req.To, req.Method, args, &result); err != nil {
			reply(w, map[string]any{"error": errorOf(err)})
			return
		}
		if req.BigArg > 0 {
			var s string
			_ = json.Unmarshal(result, &s)
			reply(w, map[string]any{"length": len(s), "same": s == big})
			return
		}
		reply(w, map[string]any{"result": result})
	})
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To         string          `json:"to"`
			Payload    json.RawMessage `json:"payload"`
			BigPayload int             `json:"bigPayload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var payload any = req.Payload
		if req.BigPayload > 0 {
			payload = bigString(req.BigPayload)
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		if err := p.client.Send(ctx, req.To, payload); err != nil {
			reply(w, map[string]any{"error": errorOf(err)})
			return
		}
		reply(w, map[string]any{})
	})
	mux.HandleFunc("GET /message", func(w http.ResponseWriter, r *http.Request) {
		wait := 5 * time.Second
		if ms := r.URL.Query().Get("timeoutMs"); ms != "" {
			var n int
			fmt.Sscan(ms, &n)
			wait = time.Duration(n) * time.Millisecond
		}
		select {
		case m := <-p.messages:
			reply(w, map[string]any{"from": m.From, "channel": m.Channel, "via": m.Via, "payload": m.Payload, "bytes": len(m.Payload)})
		case <-time.After(wait):
			http.Error(w, "no message", http.StatusNotFound)
		}
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Key string `json:"key"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Key == "" {
			http.Error(w, "want {key}", http.StatusBadRequest)
			return
		}
		restart.stop(t)
		restart.start(t, req.Key)
		reply(w, map[string]any{})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// restartable is a gateway on a fixed loopback port that can be stopped and
// started again, with other API keys: a gateway that restarts with a
// rotated key, as a reconnecting client meets it.
type restartable struct {
	addr   string
	logger *slog.Logger
	mu     sync.Mutex
	gw     *gateway.Gateway
	srv    *http.Server
	done   chan struct{}
}

func newRestartable(t *testing.T, logger *slog.Logger) *restartable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &restartable{addr: ln.Addr().String(), logger: logger}
	ln.Close()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *restartable) url() string { return "ws://" + r.addr + "/" }

func (r *restartable) start(t *testing.T, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gw, err := gateway.New(gateway.Options{APIKeys: []string{key}, Logger: r.logger})
	if err != nil {
		t.Errorf("restartable gateway: %v", err)
		return
	}
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		if attempt == 50 {
			t.Errorf("restartable gateway: listen on %s: %v", r.addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.gw, r.srv, r.done = gw, &http.Server{Handler: gw.Handler()}, make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln)
	}(r.srv, r.done)
}

// stop closes the listener, then shuts the gateway down (its connections
// close with 1001).
func (r *restartable) stop(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv == nil {
		return
	}
	_ = r.srv.Close()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.gw.Shutdown(ctx); err != nil {
		t.Errorf("restartable gateway shutdown: %v", err)
	}
	r.gw, r.srv = nil, nil
}
