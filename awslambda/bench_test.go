package awslambda_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/relay"
)

// benchmarkEvent measures one event from JSON to the frame posted to a
// management API on loopback, as the function runs it in Lambda: through
// aws-lambda-go's handler, Dispatch, the relay and the Sender's SDK client.
// Direct messages make no DynamoDB call, so no DynamoDB is running.
func benchmarkEvent(b *testing.B, name, to string) {
	mgmt := newManagementAPI(b, connA, connB)
	d, err := awslambda.New(awslambda.Config{
		AWS:                localAWS(),
		Table:              "unused",
		ManagementEndpoint: mgmt.Endpoint(),
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	handler := lambda.NewHandler(d)
	event := readEvent(b, name)
	ctx := invocationContext()
	if _, err := handler.Invoke(ctx, event); err != nil {
		b.Fatal(err)
	}
	if got := mgmt.Take(to); len(got) != 1 {
		b.Fatalf("frames to %s = %q, want 1", to, got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := handler.Invoke(ctx, event); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(mgmt.Take(to)); n < b.N {
		b.Fatalf("%d frames posted for %d events", n, b.N)
	}
}

func BenchmarkHandlerLoopback(b *testing.B) { benchmarkEvent(b, "ws-loopback.json", connA) }

func BenchmarkHandlerSendmessage(b *testing.B) { benchmarkEvent(b, "ws-sendmessage.json", connB) }

// nopSender drops every frame.
type nopSender struct{}

func (nopSender) Send(context.Context, relay.Delivery) error { return nil }

// BenchmarkDispatchOnly measures the function without the management API
// call: aws-lambda-go's handler, event JSON decoding and the relay.
func BenchmarkDispatchOnly(b *testing.B) {
	d, err := awslambda.New(awslambda.Config{Table: "unused", Sender: nopSender{}})
	if err != nil {
		b.Fatal(err)
	}
	handler := lambda.NewHandler(d)
	event := readEvent(b, "ws-sendmessage.json")
	ctx := invocationContext()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := handler.Invoke(ctx, event); err != nil {
			b.Fatal(err)
		}
	}
}
