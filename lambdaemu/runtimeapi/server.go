// Package runtimeapi is a Lambda Runtime API server on loopback, for
// running a real Lambda bootstrap as a child process on one machine: start a
// [Server], run the bootstrap with AWS_LAMBDA_RUNTIME_API set to
// [Server.Addr], and call [Server.Invoke] with event JSON to get the
// function's response, as Lambda would.
//
// It serves the parts of the Runtime API (version 2018-06-01) that
// aws-lambda-go uses: GET invocation/next (long-polled), POST
// invocation/{id}/response and invocation/{id}/error, and POST init/error.
package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the Runtime API.
const (
	pathNext      = "GET /2018-06-01/runtime/invocation/next"
	pathResponse  = "POST /2018-06-01/runtime/invocation/{id}/response"
	pathError     = "POST /2018-06-01/runtime/invocation/{id}/error"
	pathInitError = "POST /2018-06-01/runtime/init/error"
)

// Headers of an invocation, as Lambda sends them.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadline    = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
)

// DefaultFunctionARN is the ARN an invocation carries when Options has none.
const DefaultFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:monologue"

// DefaultTimeout is the deadline of an invocation whose context has none.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds a response body, as Lambda's 6 MB limit does.
const maxResponse = 6 << 20

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// FunctionARN is sent with each invocation. Empty: DefaultFunctionARN.
	FunctionARN string
	// Timeout is the deadline given to an invocation whose context has no
	// deadline. Zero: DefaultTimeout.
	Timeout time.Duration
}

// FunctionError is what Invoke returns when the function reports an error
// for the invocation (POST …/error) or for its initialisation (POST init/error).
type FunctionError struct {
	Init    bool   // reported by init/error
	Type    string // errorType, e.g. "errorString"
	Message string // errorMessage
	Payload []byte // the body as posted
}

// Error returns "runtimeapi: function error TYPE: MESSAGE".
func (e *FunctionError) Error() string {
	what := "function error"
	if e.Init {
		what = "init error"
	}
	return "runtimeapi: " + what + " " + e.Type + ": " + e.Message
}

// ErrClosed is returned by Invoke once the Server is closed.
var ErrClosed = errors.New("runtimeapi: server closed")

type result struct {
	response []byte
	err      error
}

type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	done     chan result // 1-buffered; the first result wins
}

func (inv *invocation) finish(res result) {
	select {
	case inv.done <- res:
	default:
	}
}

// Server is a Lambda Runtime API. Its methods are safe for concurrent use;
// several child processes may poll one Server, each taking the next event.
type Server struct {
	opts     Options
	listener net.Listener
	http     *http.Server
	queue    chan *invocation
	closed   chan struct{}
	ready    chan struct{}

	readyOnce sync.Once
	closeOnce sync.Once
	sequence  atomic.Uint64

	mu       sync.Mutex
	inFlight map[string]*invocation // queued or dispatched, by request ID
	initErr  *FunctionError
}

// New starts a Server on 127.0.0.1 on a free port.
func New(opts Options) (*Server, error) {
	if opts.FunctionARN == "" {
		opts.FunctionARN = DefaultFunctionARN
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		listener: l,
		queue:    make(chan *invocation),
		closed:   make(chan struct{}),
		ready:    make(chan struct{}),
		inFlight: make(map[string]*invocation),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(pathNext, s.next)
	mux.HandleFunc(pathResponse, s.response)
	mux.HandleFunc(pathError, s.functionError)
	mux.HandleFunc(pathInitError, s.initError)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(l)
	return s, nil
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Ready is closed when a function first asks for an invocation, which is
// when its initialisation has finished.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Invoke queues event for the next function that polls, waits for its
// response and returns it. It returns a *FunctionError when the function
// reports an error, and ctx's error when ctx ends first. The invocation's
// deadline is ctx's, or Options.Timeout from now. event must not be
// modified until Invoke returns.
func (s *Server) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.opts.Timeout)
	}
	inv := &invocation{
		id:       fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, s.sequence.Add(1)),
		event:    event,
		deadline: deadline,
		done:     make(chan result, 1),
	}
	s.mu.Lock()
	if s.initErr != nil {
		err := s.initErr
		s.mu.Unlock()
		return nil, err
	}
	s.inFlight[inv.id] = inv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inFlight, inv.id)
		s.mu.Unlock()
	}()
	select {
	case s.queue <- inv:
	case res := <-inv.done: // aborted while queued
		return res.response, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("runtimeapi: no function took the invocation: %w", ctx.Err())
	case <-s.closed:
		return nil, ErrClosed
	}
	select {
	case res := <-inv.done:
		return res.response, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("runtimeapi: no response from the function: %w", ctx.Err())
	case <-s.closed:
		return nil, ErrClosed
	}
}

// Abort fails every invocation that is waiting, queued or dispatched, with
// err: for a caller that has seen the function's process exit.
func (s *Server) Abort(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inv := range s.inFlight {
		inv.finish(result{err: err})
	}
}

// Close stops the Server: pending and later Invokes return ErrClosed, and a
// function polling for its next invocation gets its connection closed.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.http.Close()
	})
	return err
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.readyOnce.Do(func() { close(s.ready) })
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	case <-s.closed:
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(HeaderFunctionARN, s.opts.FunctionARN)
	h.Set(HeaderTraceID, "Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+inv.id[:8]+";Sampled=0")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(inv.event)))
	if _, err := w.Write(inv.event); err != nil {
		inv.finish(result{err: fmt.Errorf("runtimeapi: deliver invocation: %w", err)})
	}
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (*invocation, []byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponse+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	s.mu.Lock()
	inv := s.inFlight[r.PathValue("id")]
	s.mu.Unlock()
	if inv == nil {
		// Its Invoke has given up (ctx ended). Lambda would have ended the
		// sandbox; accept the late answer so the function keeps running.
		w.WriteHeader(http.StatusAccepted)
		return nil, nil, false
	}
	if len(body) > maxResponse {
		inv.finish(result{err: &FunctionError{Type: "ResponseSizeTooLarge", Message: "response exceeds 6 MB"}})
		http.Error(w, `{"errorMessage":"response too large","errorType":"RequestEntityTooLarge"}`, http.StatusRequestEntityTooLarge)
		return nil, nil, false
	}
	return inv, body, true
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	inv, body, ok := s.lookup(w, r)
	if !ok {
		return
	}
	inv.finish(result{response: body})
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) functionError(w http.ResponseWriter, r *http.Request) {
	inv, body, ok := s.lookup(w, r)
	if !ok {
		return
	}
	inv.finish(result{err: parseError(body, r.Header.Get(headerErrorType), false)})
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	ferr := parseError(body, r.Header.Get(headerErrorType), true)
	s.mu.Lock()
	s.initErr = ferr
	for _, inv := range s.inFlight {
		inv.finish(result{err: ferr})
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func parseError(body []byte, errorType string, init bool) *FunctionError {
	var payload struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	_ = json.Unmarshal(body, &payload)
	if payload.Type == "" {
		payload.Type = errorType
	}
	return &FunctionError{Init: init, Type: payload.Type, Message: payload.Message, Payload: body}
}
