package bench

import (
	"testing"
	"time"
)

// TestLeanHold: the plain driver's lean handshake opens a connection to the
// gateway and to the floor relay (each answering whoami with an ID), holds
// it until closed, and sees the server close it.
func TestLeanHold(t *testing.T) {
	for _, peer := range []string{"monologue+plain", "floor+plain"} {
		t.Run(peer, func(t *testing.T) {
			ctx, srv := startTestPeer(t, peer)
			d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "k"}}
			held, err := d.hold(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			kept, err := d.hold(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := held.close(); err != nil {
				t.Errorf("close: %v", err)
			}
			select {
			case <-kept.done():
				t.Fatal("a held connection ended while its server runs")
			case <-time.After(100 * time.Millisecond):
			}
			srv.stop()
			select {
			case <-kept.done():
			case <-time.After(10 * time.Second):
				t.Fatal("the held connection did not see its server go")
			}
			_ = kept.close()
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		ctx, srv := startTestPeer(t, "monologue+plain")
		d := &plainDriver{monologueDriver: monologueDriver{url: srv.ready.URL, apiKey: "not the key"}}
		if h, err := d.hold(ctx, nil); err == nil {
			_ = h.close()
			t.Fatal("a handshake with the wrong key held a connection")
		}
	})
}
