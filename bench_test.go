package monologue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// BenchmarkCall measures the Call path: two clients through an in-process
// gateway on loopback, a string method of two string arguments. serial
// waits for each reply (latency); parallel keeps many calls in flight
// (throughput: batching, the token map, the writer).
func BenchmarkCall(b *testing.B) {
	gw := startGateway(b, gateway.Options{})
	server := gw.dial(b, monologue.Options{})
	client := gw.dial(b, monologue.Options{})
	must(b, server.Handle("sample-method", func(_ context.Context, req *monologue.Request) (any, error) {
		var x, y string
		if err := req.Bind(&x, &y); err != nil {
			return nil, err
		}
		return x + y, nil
	}))
	ctx := context.Background()
	to := server.ID()
	args := []any{"from", "machine1"}
	call := func(b *testing.B) {
		var s string
		if err := client.Call(ctx, to, "sample-method", args, &s); err != nil {
			b.Fatal(err)
		}
		if s != "frommachine1" {
			b.Fatalf("got %q", s)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call(b)
			}
		})
	})
}

// BenchmarkCallEcho4K is the benchmark's rpc S=4096 shape: an echo of one
// 4 KiB string argument, many calls in flight.
func BenchmarkCallEcho4K(b *testing.B) {
	gw := startGateway(b, gateway.Options{})
	server := gw.dial(b, monologue.Options{})
	client := gw.dial(b, monologue.Options{})
	must(b, server.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
		var s string
		err := req.Bind(&s)
		return s, err
	}))
	ctx := context.Background()
	to := server.ID()
	arg := strings.Repeat("x", 4096)
	b.SetBytes(2 * 4096)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		args := []any{arg}
		for pb.Next() {
			var s string
			if err := client.Call(ctx, to, "echo", args, &s); err != nil {
				b.Fatal(err)
			}
			if len(s) != len(arg) {
				b.Fatalf("got %d bytes", len(s))
			}
		}
	})
}
