// Command bench compares the calls per second of the TypeScript client with
// those of the Go client and of the original JavaScript client's model, on
// one gateway, in one run:
//
//	go run ./clients/js/bench [-duration 5s] [-concurrency 64] [-rounds 2]
//
// It starts a gateway in this process and runs each client in a child
// process of its own (a caller and a callee, concurrency calls in flight,
// a one-word argument echoed back): the Go client in a copy of this
// program, the two JavaScript clients with node (calls.mjs). With taskset
// on PATH the gateway runs on core 0 and the clients on core 1. It prints a
// Markdown table of calls/s, the best of the rounds.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monologue-go/monologue"
	jsclient "github.com/monologue-go/monologue/clients/js"
	"github.com/monologue-go/monologue/gateway"
)

func main() {
	child := flag.String("child", "", "internal: run the Go client's side against -endpoint")
	endpoint := flag.String("endpoint", "", "internal: the gateway of -child")
	key := flag.String("key", "", "internal: the API key of -child")
	duration := flag.Duration("duration", 5*time.Second, "how long each client is measured (after 1 s of warm-up)")
	concurrency := flag.Int("concurrency", 64, "calls in flight per client")
	rounds := flag.Int("rounds", 2, "rounds; each client runs once per round and its best is reported")
	flag.Parse()
	if *child != "" {
		if err := runGo(*endpoint, *key, *duration, *concurrency); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := orchestrate(*duration, *concurrency, *rounds); err != nil {
		log.Fatal(err)
	}
}

// result is what a child prints.
type result struct {
	Client  string  `json:"client"`
	Calls   int     `json:"calls"`
	Seconds float64 `json:"seconds"`
}

func orchestrate(duration time.Duration, concurrency, rounds int) error {
	dir, err := clientDir()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := jsclient.Prepare(ctx, dir); err != nil {
		return err
	}
	keyBytes := make([]byte, 16)
	_, _ = rand.Read(keyBytes)
	key := hex.EncodeToString(keyBytes)
	gw, err := gateway.New(gateway.Options{APIKeys: []string{key}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw.Handler()}
	go srv.Serve(ln)
	defer func() {
		srv.Close()
		shutdown, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(shutdown)
	}()
	endpoint := "ws://" + ln.Addr().String() + "/"

	taskset, _ := exec.LookPath("taskset")
	if taskset != "" && runtime.NumCPU() >= 2 {
		_ = exec.Command(taskset, "-a", "-p", "-c", "0", strconv.Itoa(os.Getpid())).Run()
	} else {
		taskset = ""
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ms := strconv.FormatInt(duration.Milliseconds(), 10)
	clients := []struct {
		name string
		argv []string
	}{
		{"Go client (root package)", []string{self, "-child", "go", "-endpoint", endpoint, "-key", key,
			"-duration", duration.String(), "-concurrency", strconv.Itoa(concurrency)}},
		{"TypeScript client (clients/js)", []string{"node", filepath.Join(dir, "bench", "calls.mjs"), "ts", endpoint, key, ms, strconv.Itoa(concurrency)}},
		{"original JavaScript client (compat/js model, v2)", []string{"node", filepath.Join(dir, "bench", "calls.mjs"), "original", endpoint, key, ms, strconv.Itoa(concurrency)}},
	}
	best := make([]result, len(clients))
	for round := 0; round < rounds; round++ {
		for i, c := range clients {
			argv := c.argv
			if taskset != "" {
				argv = append([]string{taskset, "-c", "1"}, argv...)
			}
			r, err := runChild(argv)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if rate(r) > rate(best[i]) {
				best[i] = r
			}
			fmt.Fprintf(os.Stderr, "round %d: %-48s %8.0f calls/s\n", round+1, c.name, rate(r))
		}
	}
	fmt.Printf("| client | calls/s | relative to Go |\n|---|---:|---:|\n")
	for i, c := range clients {
		fmt.Printf("| %s | %.0f | %.2f |\n", c.name, rate(best[i]), rate(best[i])/rate(best[0]))
	}
	fmt.Printf("\n%d calls in flight per client, %v per round (best of %d), one-word argument echoed; gateway pinned to core 0 and clients to core 1: %v; %s, Go %s\n",
		concurrency, duration, rounds, taskset != "", nodeVersion(), runtime.Version())
	return nil
}

func rate(r result) float64 {
	if r.Seconds == 0 {
		return 0
	}
	return float64(r.Calls) / r.Seconds
}

func runChild(argv []string) (result, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return result{}, fmt.Errorf("child printed %q: %w", out, err)
	}
	return r, nil
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "node ?"
	}
	return "node " + strings.TrimSpace(string(out))
}

// clientDir finds clients/js from the working directory (the repository
// root, or clients/js itself).
func clientDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, dir := range []string{filepath.Join(wd, "clients", "js"), wd, filepath.Dir(wd)} {
		if _, err := os.Stat(filepath.Join(dir, "bench", "calls.mjs")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("run from the repository root: no clients/js/bench/calls.mjs under %s", wd)
}

// runGo is a child: the Go client's caller and callee.
func runGo(endpoint, key string, duration time.Duration, concurrency int) error {
	ctx := context.Background()
	opts := &monologue.Options{Endpoint: endpoint, APIKey: key, Logger: slog.New(slog.DiscardHandler)}
	callee, err := monologue.Dial(ctx, opts)
	if err != nil {
		return err
	}
	defer callee.Close()
	if err := callee.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
		return req.Args[0], nil
	}); err != nil {
		return err
	}
	caller, err := monologue.Dial(ctx, opts)
	if err != nil {
		return err
	}
	defer caller.Close()
	run := func(d time.Duration) (int, error) {
		var calls atomic.Int64
		var failure atomic.Pointer[error]
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for time.Now().Before(end) {
					var s string
					if err := caller.Call(ctx, callee.ID(), "echo", []any{"hello"}, &s); err != nil || s != "hello" {
						if err == nil {
							err = fmt.Errorf("wrong answer %q", s)
						}
						failure.Store(&err)
						return
					}
					calls.Add(1)
				}
			})
		}
		wg.Wait()
		if e := failure.Load(); e != nil {
			return 0, *e
		}
		return int(calls.Load()), nil
	}
	if _, err := run(time.Second); err != nil {
		return err
	}
	start := time.Now()
	calls, err := run(duration)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{Client: "go", Calls: calls, Seconds: time.Since(start).Seconds()})
}
