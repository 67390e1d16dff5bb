package monologue_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/monologue-go/monologue"
)

// Example_readme is the Go example of README.md, as it is there (between
// the README markers; TestREADMEExample keeps the two the same): a worker
// answers a method and reads a channel, another machine calls the method
// and publishes to the channel. The endpoint and the key come from the
// environment, as they would from the .monologuerc that serve writes.
func Example_readme() {
	endpoint, stop := exampleGateway()
	defer stop()
	os.Setenv(monologue.EnvEndpoint, endpoint)
	os.Setenv(monologue.EnvAPIKey, "secret")
	defer os.Unsetenv(monologue.EnvEndpoint)
	defer os.Unsetenv(monologue.EnvAPIKey)

	// README:begin
	ctx := context.Background()

	// The endpoint and API key come from MONOLOGUE_ENDPOINT and MONOLOGUE_API_KEY,
	// else from the .monologuerc that monologue serve wrote.
	news := make(chan monologue.Message, 1)
	worker, err := monologue.Dial(ctx, &monologue.Options{
		OnMessage: func(m monologue.Message) { news <- m },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	err = worker.Handle("greet", func(ctx context.Context, req *monologue.Request) (any, error) {
		var name string
		if err := req.Bind(&name); err != nil {
			return nil, err
		}
		return "hello, " + name, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Subscribe(ctx, "news"); err != nil {
		log.Fatal(err)
	}

	caller, err := monologue.Dial(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()
	var greeting string
	if err := caller.Call(ctx, worker.ID(), "greet", []any{"machine 2"}, &greeting); err != nil {
		log.Fatal(err) // errors.Is(err, monologue.ErrNotFound), ErrGone, context.DeadlineExceeded…
	}
	fmt.Println(greeting)

	if err := caller.Publish(ctx, "news", map[string]string{"headline": "channels work"}); err != nil {
		log.Fatal(err)
	}
	m := <-news
	fmt.Println(m.Channel, string(m.Payload))
	// README:end

	// Output:
	// hello, machine 2
	// news {"headline":"channels work"}
}

// TestREADMEExample: the README's Go example is Example_readme's body, so
// it compiles and runs as printed.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "## Go client\n")
	if !ok {
		t.Fatal("README.md has no section ## Go client")
	}
	_, block, _ = strings.Cut(block, "```go\n")
	block, _, _ = strings.Cut(block, "```")

	source, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(source), "\t// README:begin\n")
	body, _, _ = strings.Cut(body, "\t// README:end\n")
	var lines []string
	for line := range strings.Lines(body) {
		lines = append(lines, strings.TrimPrefix(line, "\t"))
	}
	if want := strings.Join(lines, ""); block != want {
		t.Errorf("README.md's Go example differs from Example_readme; make it:\n%s", want)
	}
}
