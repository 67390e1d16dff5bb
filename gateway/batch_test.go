package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
)

// TestBatch: frames sent under a Batch's context wait for Flush, then
// reach each connection in the order they were sent, however they were
// interleaved with other connections' frames; MoreFollows sees the batch.
func TestBatch(t *testing.T) {
	for _, loops := range []int{-1, 1} {
		t.Run(fmt.Sprintf("loops %d", loops), func(t *testing.T) {
			s := start(t, gateway.Options{EventLoops: loops})
			clients := []*client{s.dial(t), s.dial(t)}
			var ids []string
			var frames []chan string
			for _, c := range clients {
				ids = append(ids, c.whoami())
				ch := make(chan string, 16)
				frames = append(frames, ch)
				go func() {
					for {
						_, data, err := c.ws.ReadMessage()
						if err != nil {
							return
						}
						ch <- string(data)
					}
				}()
			}
			// A frame sent while the connection's writer still runs (the
			// whoami answer's, just after the client read it) goes with
			// that writer: let them finish first.
			time.Sleep(100 * time.Millisecond)
			batch := gateway.NewBatch(context.Background())
			if !gateway.MoreFollows(batch.Context()) {
				t.Fatal("MoreFollows does not see a Batch's context")
			}
			for i := range 6 {
				d := relay.Delivery{To: ids[i%2], Frame: fmt.Appendf(nil, `{"n":%d}`, i)}
				if err := s.gw.Send(batch.Context(), d); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			select {
			case f := <-frames[0]:
				t.Fatalf("before Flush, a client got %s", f)
			case f := <-frames[1]:
				t.Fatalf("before Flush, a client got %s", f)
			case <-time.After(200 * time.Millisecond):
			}
			batch.Flush()
			for i := range 6 {
				select {
				case got := <-frames[i%2]:
					if want := fmt.Sprintf(`{"n":%d}`, i); got != want {
						t.Fatalf("client %d got %s, want %s", i%2, got, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("frame %d did not arrive after Flush", i)
				}
			}
		})
	}
}
