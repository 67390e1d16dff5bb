package peers

import (
	"context"
	"log/slog"
	"os"

	"github.com/monologue-go/monologue/gateway"
)

// startMonologue runs the monologue gateway as "monologue serve --api-key
// KEY --log-level warn" does (its public listener through gw.Listener, so
// that the event loops answer upgrades): default options (limits, in-process relay,
// in-memory channels, metrics), one API key, and a logger that keeps
// warnings and errors but not the Info line per connection, which would
// otherwise dominate the many-connection scenarios.
func startMonologue(key string) (*started, error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	gw, err := gateway.New(gateway.Options{APIKeys: []string{key}, Logger: logger})
	if err != nil {
		return nil, err
	}
	s, err := startHTTPListener(gw.Handler(), gw.Listener)
	if err != nil {
		return nil, err
	}
	stopHTTP := s.shutdown
	s.shutdown = func(ctx context.Context) error {
		gwErr := gw.Shutdown(ctx)
		if err := stopHTTP(ctx); err != nil {
			return err
		}
		return gwErr
	}
	return wsURL(s), nil
}
