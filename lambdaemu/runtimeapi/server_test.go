package runtimeapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/lambdaemu/runtimeapi"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

// function is a minimal runtime client, like aws-lambda-go's: it polls for
// the next invocation and answers with answer.
type function struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newFunction(t *testing.T, s *runtimeapi.Server) *function {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &function{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/", client: &http.Client{Transport: tr}}
}

func (f *function) next() (id string, deadline string, event string) {
	f.t.Helper()
	resp, err := f.client.Get(f.base + "invocation/next")
	if err != nil {
		f.t.Errorf("next: %v", err)
		return "", "", ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Header.Get(runtimeapi.HeaderRequestID), resp.Header.Get(runtimeapi.HeaderDeadline), string(body)
}

func (f *function) post(path, body string) int {
	f.t.Helper()
	resp, err := f.client.Post(f.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		f.t.Errorf("post %s: %v", path, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestInvokeResponse(t *testing.T) {
	s, err := runtimeapi.New(runtimeapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fn := newFunction(t, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			id, deadline, event := fn.next()
			if id == "" || deadline == "" {
				t.Errorf("invocation without request ID or deadline: %q %q", id, deadline)
			}
			if event == `{"fail":true}` {
				fn.post("invocation/"+id+"/error", `{"errorMessage":"boom","errorType":"errorString"}`)
				continue
			}
			if code := fn.post("invocation/"+id+"/response", `{"echo":`+event+`}`); code != http.StatusAccepted {
				t.Errorf("response: status %d, want 202", code)
			}
		}
	}()
	select {
	case <-s.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("Ready not closed after the first poll")
	}
	out, err := s.Invoke(context.Background(), []byte(`{"n":1}`))
	if err != nil || string(out) != `{"echo":{"n":1}}` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	_, err = s.Invoke(context.Background(), []byte(`{"fail":true}`))
	var ferr *runtimeapi.FunctionError
	if !errors.As(err, &ferr) || ferr.Message != "boom" || ferr.Type != "errorString" {
		t.Fatalf("Invoke err = %v, want the function's error", err)
	}
	<-done
}

func TestInitErrorFailsInvocations(t *testing.T) {
	s, err := runtimeapi.New(runtimeapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fn := newFunction(t, s)
	if code := fn.post("init/error", `{"errorMessage":"no table","errorType":"Runtime.InitError"}`); code != http.StatusAccepted {
		t.Fatalf("init/error: status %d", code)
	}
	_, err = s.Invoke(context.Background(), []byte(`{}`))
	var ferr *runtimeapi.FunctionError
	if !errors.As(err, &ferr) || !ferr.Init || ferr.Message != "no table" {
		t.Fatalf("Invoke err = %v, want the init error", err)
	}
}

func TestInvokeEndsWithContextAbortAndClose(t *testing.T) {
	s, err := runtimeapi.New(runtimeapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no function: err = %v, want deadline exceeded", err)
	}
	aborted := errors.New("function exited")
	result := make(chan error, 1)
	go func() { _, err := s.Invoke(context.Background(), []byte(`{}`)); result <- err }()
	time.Sleep(20 * time.Millisecond) // let it queue
	s.Abort(aborted)
	if err := <-result; !errors.Is(err, aborted) {
		t.Fatalf("aborted: err = %v", err)
	}
	// A poll in progress is released by Close.
	fn := newFunction(t, s)
	polled := make(chan struct{})
	go func() { defer close(polled); fn.client.Get(fn.base + "invocation/next") }()
	<-s.Ready()
	go func() { _, err := s.Invoke(context.Background(), nil); result <- err }()
	s.Close()
	<-polled
	if err := <-result; err == nil {
		t.Fatal("Invoke after Close succeeded")
	}
}
