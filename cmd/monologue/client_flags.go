package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/monologue-go/monologue"
)

// clientFlags are the flags every client command has.
type clientFlags struct {
	endpoint string
	apiKey   string
	timeout  time.Duration
}

// newClientFlagSet returns a flag set for a client command with the common
// flags. usage is the command line after "monologue NAME", description what
// the command does.
func newClientFlagSet(name, usage, description string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := &clientFlags{}
	fs.StringVar(&cf.endpoint, "endpoint", "",
		"gateway WebSocket URL (default: $"+monologue.EnvEndpoint+", else endpoint= in "+monologue.ConfigFile+")")
	fs.StringVar(&cf.apiKey, "api-key", "",
		"API key (default: $"+monologue.EnvAPIKey+", else apiKey= in "+monologue.ConfigFile+")")
	fs.DurationVar(&cf.timeout, "timeout", monologue.DefaultCallTimeout,
		"how long to wait for the gateway and for replies")
	if usage != "" {
		usage = " " + usage
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: monologue %s [flags]%s\n\n%s\n\nflags:\n", name, usage, description)
		fs.PrintDefaults()
	}
	return fs, cf
}

// parseArgs parses args and checks the number of positional arguments:
// at least min, at most max (max < 0: any number). Flags may come after
// the arguments too (call ID m 1 --timeout 2s); after "--" everything is an
// argument, and so is a negative number (call ID add -1 2).
func parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	ordered, err := flagsFirst(fs, args)
	if err != nil {
		fs.Usage()
		return nil, err
	}
	if err := fs.Parse(ordered); err != nil {
		if err == flag.ErrHelp {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	rest := fs.Args()
	switch {
	case len(rest) < min:
		fs.Usage()
		return nil, usageError{fmt.Sprintf("expected %d arguments, got %d", min, len(rest))}
	case max >= 0 && len(rest) > max:
		fs.Usage()
		return nil, usageError{fmt.Sprintf("unexpected arguments: %q", rest[max:])}
	}
	return rest, nil
}

// flagsFirst moves the flags of args (with their values) before the
// arguments, and puts "--" between them, so that flag.FlagSet, which stops
// at the first argument, sees them all.
func flagsFirst(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' || isNumber(arg) {
			positional = append(positional, arg)
			continue
		}
		flags = append(flags, arg)
		name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) {
			if i+1 == len(args) {
				return nil, usageError{"flag needs an argument: " + arg}
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(flags, "--"), positional...), nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// trimPrefix drops the "monologue: " that starts the client's errors, since
// main already says "monologue COMMAND: "; the error still matches what it
// wrapped. Use it as defer trimPrefix(&err).
func trimPrefix(err *error) {
	if *err != nil && strings.HasPrefix((*err).Error(), "monologue: ") {
		*err = prefixless{*err}
	}
}

type prefixless struct{ error }

// Error also names the flags where the Go client's errors name the options
// behind them.
func (e prefixless) Error() string {
	return optionFlags.Replace(strings.TrimPrefix(e.error.Error(), "monologue: "))
}

// optionFlags maps the client options that errors name to what a person
// at the command line controls.
var optionFlags = strings.NewReplacer(
	"(Options.CallTimeout)", "(--timeout)",
	"(Options.MaxSendSize)", "(the gateway's default --max-message-size)",
	"Options.MaxReceiveSize", "the largest message the command accepts",
)

func (e prefixless) Unwrap() error { return e.error }

// usageError is a command line mistake: exit status 2.
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

// As lets main find the exit status.
func (e usageError) As(target any) bool {
	if exit, ok := target.(*exitError); ok {
		*exit = 2
		return true
	}
	return false
}

// dial connects with the flags; opts holds the command's own options.
func (cf *clientFlags) dial(ctx context.Context, opts monologue.Options, stderr io.Writer) (*monologue.Client, error) {
	opts.Endpoint = cf.endpoint
	opts.APIKey = cf.apiKey
	if cf.timeout != 0 {
		opts.CallTimeout = cf.timeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return monologue.Dial(ctx, &opts)
}

// stringFlag registers --string, which makes a command's values strings.
func stringFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("string", false, "send each value as a JSON string, as it is, instead of reading it as JSON")
}

// parseValue reads a command line value (what names it in errors) as JSON,
// or with asString as a string: 42 is a number, '"42"' and hello --string
// are strings, and hello alone is an error, as is any text that is not
// JSON, so that a mistyped object is never sent as a string.
func parseValue(arg, what string, asString bool) (json.RawMessage, error) {
	if asString {
		quoted, _ := json.Marshal(arg)
		return quoted, nil
	}
	var v json.RawMessage
	if err := json.Unmarshal([]byte(arg), &v); err != nil {
		return nil, usageError{fmt.Sprintf("%s is not JSON: %s (%v); write a string in JSON quotes, such as '\"hello\"', or pass --string to send every value as the text it is",
			what, arg, err)}
	}
	return json.RawMessage(arg), nil
}

// lineWriter writes JSON values as lines, one writer at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// write writes v as one line of JSON; raw JSON is compacted so that it
// stays on one line. Write errors (a closed pipe) are ignored: the command
// runs until it is interrupted.
func (l *lineWriter) write(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	l.writeRaw(data)
}

func (l *lineWriter) writeRaw(data []byte) {
	var line bytes.Buffer
	if json.Compact(&line, data) != nil {
		line.Reset()
		line.Write(data)
	}
	line.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(line.Bytes())
}

// messageLine is how listen and subscribe print a message.
type messageLine struct {
	Channel string          `json:"channel,omitempty"`
	From    string          `json:"from,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func newMessageLine(m monologue.Message) messageLine {
	return messageLine{Channel: m.Channel, From: m.From, Payload: m.Payload}
}

// sendErrors collects what the gateway reports about fire-and-forget frames
// (Options.OnError), for send and publish.
type sendErrors struct {
	mu   sync.Mutex
	errs []error
}

func (s *sendErrors) add(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *sendErrors) first() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return s.errs[0]
}

// deliver sends a fire-and-forget frame with send, then waits for a round
// trip, so that the gateway's error about the frame, if any, is returned.
func deliver(ctx context.Context, c *monologue.Client, errs *sendErrors, send func() error) error {
	if err := send(); err != nil {
		return err
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	return errs.first()
}

// waitDone waits until ctx ends (nil: the person stopped the command) or
// the client stops for good, such as when the gateway refuses to let it
// reconnect (its error).
func waitDone(ctx context.Context, c *monologue.Client) error {
	select {
	case <-ctx.Done():
		return nil
	case <-c.Done():
		return c.Err()
	}
}
