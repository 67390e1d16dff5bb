package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// defaultShutdownTimeout bounds serve's shutdown: WebSockets closed with
// 1001, HTTP requests still open then cut off.
const defaultShutdownTimeout = 15 * time.Second

// limitsConfig is the command line of the limits that protect the server.
type limitsConfig struct {
	maxConnections, maxConnectionsPerIP, maxConnectionsPerKey int
	maxSubscriptions, maxNames                                int
	maxQueuedBytes                                            int64
	frameTimeout, httpReadTimeout, shutdownTimeout            time.Duration
}

// limitFlags registers the flags of the limits that protect the server.
func limitFlags(fs *flag.FlagSet, cfg *limitsConfig) {
	fs.IntVar(&cfg.maxConnections, "max-connections", 0, "open WebSocket connections; a handshake over it gets HTTP 503 (0: what the file limit allows, less a reserve; negative: no cap)")
	fs.IntVar(&cfg.maxConnectionsPerIP, "max-connections-per-ip", 0, "open WebSocket connections from one source address; over it, HTTP 429 (0: no cap)")
	fs.IntVar(&cfg.maxConnectionsPerKey, "max-connections-per-key", 0, "open WebSocket connections with one API key; over it, HTTP 429 (0: no cap)")
	fs.IntVar(&cfg.maxSubscriptions, "max-subscriptions", 0, "channels one connection may join; past it, limit_exceeded (0: 1,000)")
	fs.IntVar(&cfg.maxNames, "max-names", 0, "names one connection may hold; past it, limit_exceeded (0: 64)")
	fs.Var(sizeFlag[int64]{&cfg.maxQueuedBytes}, "max-queued-bytes", "`size` of the frames waiting in the send queues of all connections together, in bytes or such as 256MiB; past it a send that would wait gets rate_limited (0: a quarter of the memory; none: no limit)")
	fs.DurationVar(&cfg.frameTimeout, "frame-timeout", gateway.DefaultFrameTimeout, "a WebSocket frame that has started must arrive whole within this, or the connection is closed with 1008 (0: no limit)")
	fs.DurationVar(&cfg.httpReadTimeout, "http-read-timeout", gateway.DefaultHTTPReadTimeout, "an HTTP request's headers must arrive within this, and then its body within this again, on both listeners (0: no limit)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "on SIGINT or SIGTERM, how long WebSockets (closed with 1001) and open HTTP requests get before serve exits")
}

// check reports a limit that makes no sense.
func (cfg limitsConfig) check() error {
	if cfg.maxConnectionsPerIP < 0 || cfg.maxConnectionsPerKey < 0 {
		return errors.New("--max-connections-per-ip and --max-connections-per-key cannot be negative (0: no cap)")
	}
	if cfg.frameTimeout < 0 || cfg.httpReadTimeout < 0 {
		return errors.New("--frame-timeout and --http-read-timeout cannot be negative (0: no limit)")
	}
	if cfg.shutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout must be positive")
	}
	return nil
}

// apply sets the limits in opts and returns it.
func (cfg limitsConfig) apply(opts gateway.Options) gateway.Options {
	opts.MaxConnections = cfg.maxConnections
	opts.MaxConnectionsPerIP = cfg.maxConnectionsPerIP
	opts.MaxConnectionsPerKey = cfg.maxConnectionsPerKey
	opts.MaxQueuedBytes = cfg.maxQueuedBytes
	opts.MaxSubscriptionsPerConnection = cfg.maxSubscriptions
	opts.MaxNamesPerConnection = cfg.maxNames
	opts.FrameTimeout = noneIfZero(cfg.frameTimeout)
	opts.HTTPReadTimeout = noneIfZero(cfg.httpReadTimeout)
	return opts
}

// sizeFlag is a flag.Value of a number of bytes (see parseSize).
type sizeFlag[T int | int64] struct{ bytes *T }

func (f sizeFlag[T]) String() string {
	if f.bytes == nil {
		return "0"
	}
	return formatSize(int64(*f.bytes))
}

func (f sizeFlag[T]) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("size %s is too large", s)
	}
	*f.bytes = T(n)
	return nil
}

// sizeUnits are the units parseSize accepts, in bytes: binary ones (KiB,
// and K as its short form) and decimal ones (KB).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// parseSize parses a number of bytes: plain ("131072"), or a number and a
// unit ("128KiB", "1.5 GiB", "512MB"; units are case-insensitive, K, M, G
// and T are binary). "none" and negative numbers are -1, which the limits
// read as no limit.
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	if strings.EqualFold(text, "none") {
		return -1, nil
	}
	end := len(text)
	for end > 0 && (text[end-1] < '0' || text[end-1] > '9') && text[end-1] != '.' {
		end--
	}
	number, unit := text[:end], strings.ToLower(strings.TrimSpace(text[end:]))
	scale, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s, text[end:])
	}
	if n, err := strconv.ParseInt(number, 10, 64); err == nil {
		if n < 0 {
			return -1, nil
		}
		if n > math.MaxInt64/scale {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return n * scale, nil
	}
	f, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number of bytes, such as 131072 or 128KiB", s)
	}
	if f < 0 {
		return -1, nil
	}
	if bytes := f * float64(scale); bytes < math.MaxInt64 {
		return int64(bytes), nil
	}
	return 0, fmt.Errorf("size %q is too large", s)
}

// formatSize writes n bytes with the largest binary unit that divides it.
func formatSize(n int64) string {
	if n < 0 {
		return "none"
	}
	for _, u := range []struct {
		name  string
		scale int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
