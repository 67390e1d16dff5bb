package monologue_test

import (
	"context"
	"fmt"
	"log"

	"github.com/monologue-go/monologue"
)

// A pool of workers behind one name: the caller knows nothing but the
// name; each call goes to one worker, chosen at random.
func ExampleClient_Claim() {
	endpoint, stop := exampleGateway()
	defer stop()
	ctx := context.Background()
	opts := &monologue.Options{Endpoint: endpoint, APIKey: "secret"}

	for range 3 {
		worker, err := monologue.Dial(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		defer worker.Close()
		err = worker.Handle("invoice", func(ctx context.Context, req *monologue.Request) (any, error) {
			var amount int
			if err := req.Bind(&amount); err != nil {
				return nil, err
			}
			return fmt.Sprintf("invoiced %d", amount), nil
		})
		if err != nil {
			log.Fatal(err)
		}
		if err := worker.Claim(ctx, "billing"); err != nil {
			log.Fatal(err)
		}
	}

	caller, err := monologue.Dial(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()
	for _, amount := range []int{10, 20, 30} {
		var s string
		if err := caller.Call(ctx, "@billing", "invoice", []any{amount}, &s); err != nil {
			log.Fatal(err)
		}
		fmt.Println(s)
	}
	holders, err := caller.Holders(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(holders.Count, "workers")
	// Output:
	// invoiced 10
	// invoiced 20
	// invoiced 30
	// 3 workers
}
