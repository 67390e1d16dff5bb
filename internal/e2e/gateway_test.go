package e2e

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/internal/dynamolocal"
)

func TestMain(m *testing.M) {
	code := dynamolocal.Run(m)
	removeBootstrap()
	os.Exit(code)
}

// testAPIKey is the API key of the servers started here.
const testAPIKey = "e2e-test-key-0123456789"

// startGateway starts the gateway with its in-process relay (mode 1) on two
// httptest servers, public and admin.
func startGateway(t *testing.T, cfg Config) Server {
	t.Helper()
	gw, err := gateway.New(gateway.Options{
		APIKeys:          []string{testAPIKey},
		MaxMessageSize:   cfg.MaxMessageSize,
		IdleTimeout:      cfg.IdleTimeout,
		MaxConnectionAge: cfg.MaxConnectionAge,
		MessageRate:      cfg.MessageRate,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	public := httptest.NewServer(gw.Handler())
	admin := httptest.NewServer(gw.AdminHandler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		public.Close()
		admin.Close()
	})
	return Server{
		URL:       "ws" + strings.TrimPrefix(public.URL, "http") + "/",
		PublicURL: public.URL,
		AdminURL:  admin.URL,
		APIKey:    testAPIKey,
	}
}

// TestGateway runs the suite against the gateway with its in-process relay.
func TestGateway(t *testing.T) {
	Run(t, startGateway)
}
