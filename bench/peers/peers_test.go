package peers

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun starts each Go peer in process, reads its Ready line, asks its
// admin listener for the heap, and stops it by closing stdin.
func TestRun(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			stdinR, stdinW := io.Pipe()
			stdoutR, stdoutW := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- Run(context.Background(), name, &Options{APIKey: "k", Stdin: stdinR}, stdoutW)
				stdoutW.Close()
			}()
			line, err := bufio.NewReader(stdoutR).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, stdoutR)
			var ready Ready
			if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.URL == "" || ready.Admin == "" {
				t.Fatalf("ready line %q: %v", line, err)
			}
			resp, err := http.Get(ready.Admin + "/heap")
			if err != nil {
				t.Fatal(err)
			}
			var heap Heap
			err = json.NewDecoder(resp.Body).Decode(&heap)
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			if err != nil || heap.HeapInuse <= 0 || heap.Goroutines <= 0 {
				t.Fatalf("heap %+v, %v", heap, err)
			}
			stdinW.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after stdin closed")
			}
		})
	}
	if err := Run(context.Background(), "nope", nil, io.Discard); err == nil {
		t.Fatal("no error for an unknown peer")
	}
}
