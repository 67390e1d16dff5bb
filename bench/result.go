package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/monologue-go/monologue/bench/hist"
)

// Result is the outcome of one Spec on one peer; it is also the JSON line
// written for tools.
type Result struct {
	Spec
	// Peer is the peer measured.
	Peer string `json:"peer"`
	// Time is when the run started.
	Time time.Time `json:"time"`
	// Unit names what Ops counts: calls, deliveries or connections.
	Unit string `json:"unit"`
	// Ops is the number of verified operations in the measured interval:
	// calls whose answer matched their argument, deliveries whose payload
	// matched what was published, connections that completed their
	// handshake (and, for idle, were still open at the end).
	Ops uint64 `json:"ops"`
	// Errors counts the operations that failed or did not verify;
	// Mismatches, the ones among them whose answer came back wrong.
	Errors     uint64 `json:"errors"`
	Mismatches uint64 `json:"mismatches"`
	// ErrorSamples are the first few distinct error messages.
	ErrorSamples []string `json:"errorSamples,omitempty"`
	// ElapsedSec is the length of the measured interval.
	ElapsedSec float64 `json:"elapsedSec"`
	// Rate is Ops per second over the measured interval.
	Rate float64 `json:"rate"`
	// LatencyUs are the latencies of the verified operations, in µs: call
	// round trip, publish to receive, or dial to identified.
	LatencyUs Latency `json:"latencyUs"`
	// ServerCPUUs is the server's CPU time (user + system, 10 ms
	// resolution) over the measured interval, in µs; ServerCPUUsPerOp
	// divides it by Ops. ClientCPUUsPerOp is the load generator's.
	ServerCPUUs      float64 `json:"serverCpuUs"`
	ServerCPUUsPerOp float64 `json:"serverCpuUsPerOp"`
	ClientCPUUsPerOp float64 `json:"clientCpuUsPerOp"`
	// BrokerCPUUsPerOp (socketio on several nodes) is the part of
	// ServerCPUUsPerOp that the Redis server used.
	BrokerCPUUsPerOp float64 `json:"brokerCpuUsPerOp,omitempty"`
	// Messages (fanout) is the number of messages published in the
	// measured interval; each reached N subscribers.
	Messages uint64 `json:"messages,omitempty"`
	// BackboneBytes (several nodes) is what crossed the connections between
	// the servers (NATS routes, or to and from Redis), either way, over the
	// measured interval, less what crosses them while nothing is sent
	// (BackboneIdleBytesPerSec: heartbeats, pings, measured once the run
	// is over and quiet); BackboneBytesPerMessage divides it by the calls
	// (rpc) or by the messages published (fanout), not by the deliveries.
	BackboneBytes           uint64  `json:"backboneBytes,omitempty"`
	BackboneBytesPerMessage float64 `json:"backboneBytesPerMessage,omitempty"`
	BackboneIdleBytesPerSec float64 `json:"backboneIdleBytesPerSec,omitempty"`
	// ServerRSS is the server's resident memory at the end, in bytes.
	ServerRSS int64 `json:"serverRssBytes"`
	// RSSPerConn and HeapPerConn (idle) are the growth of the server's
	// resident memory and of its heap in use (after a GC; Go or V8) from
	// before the connections opened to after, divided by their number.
	RSSPerConn  float64 `json:"rssPerConnBytes,omitempty"`
	HeapPerConn float64 `json:"heapPerConnBytes,omitempty"`
	// IdleCPUPercent (idle) is the server's CPU use while it held the
	// connections, in percent of one core.
	IdleCPUPercent float64 `json:"idleCpuPercent,omitempty"`
	// Pinned tells whether the server ran on core 0 and the load
	// generator on core 1.
	Pinned bool `json:"pinned"`
	// Machine is the machine's other load, sampled before the run.
	Machine Machine `json:"machine"`
	// Error is why the run failed, if it did; its numbers are then partial.
	Error string `json:"error,omitempty"`
}

// Latency holds percentiles in µs.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// latencyOf reads the percentiles of a histogram of nanoseconds.
func latencyOf(h *hist.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{
		P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max()), Mean: h.Mean() / 1e3,
	}
}

// Machine describes the load the benchmark shares the machine with.
type Machine struct {
	// Load1 is the 1-minute load average.
	Load1 float64 `json:"load1"`
	// Busy is the fraction of time each core was busy during the sample
	// taken before the run (empty when Options.LoadSample is zero).
	Busy []float64 `json:"busy,omitempty"`
	// CPUs is the number of cores; GOMAXPROCS, the load generator's.
	CPUs       int `json:"cpus"`
	GOMAXPROCS int `json:"gomaxprocs"`
}

// tally counts operations and errors from many goroutines.
type tally struct {
	mu         sync.Mutex
	ops        uint64
	errors     uint64
	mismatches uint64
	samples    []string
}

const maxErrorSamples = 5

func (t *tally) fail(err error, mismatch bool) { t.failN(1, err, mismatch) }

// failN counts n failed operations, sampling err.
func (t *tally) failN(n uint64, err error, mismatch bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors += n
	if mismatch {
		t.mismatches += n
	}
	t.sample(err)
}

// note keeps err as a sample without counting an error.
func (t *tally) note(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sample(err)
}

func (t *tally) sample(err error) {
	if len(t.samples) < maxErrorSamples {
		msg := err.Error()
		for _, s := range t.samples {
			if s == msg {
				return
			}
		}
		t.samples = append(t.samples, msg)
	}
}

func (t *tally) fill(r *Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Ops += t.ops
	r.Errors += t.errors
	r.Mismatches += t.mismatches
	r.ErrorSamples = append(r.ErrorSamples, t.samples...)
}

// gauge is what a meter reads at both ends of a measured interval: the
// CPU time of the server (a server), or of all its processes (a
// deployment).
type gauge interface {
	cpu() (time.Duration, error)
}

// clusterGauge is a gauge of several processes, which may have a broker
// and a backbone between them (a deployment).
type clusterGauge interface {
	gauge
	brokerCPU() (time.Duration, bool, error)
	backbone(ctx context.Context) (uint64, bool, error)
}

// backboneTimeout bounds reading the backbone's byte counts.
const backboneTimeout = 10 * time.Second

// meter reads the server's and the load generator's CPU time at the start
// and end of a measured interval, and on several nodes the broker's CPU
// time and the bytes on the backbone.
type meter struct {
	srv               gauge
	start             time.Time
	srvCPU, clientCPU time.Duration
	elapsed           time.Duration
	srvUsed, selfUsed time.Duration
	err               error

	broker, haveBroker     bool
	brokerCPU, brokerUsed  time.Duration
	backbone, haveBackbone bool
	backboneStart          uint64
	backboneUsed           uint64
	// idleRate is what crosses the backbone per second while idle
	// (backboneIdleRate), left out of backboneUsed by fill; set it after
	// stop.
	idleRate float64
}

// quiesce is how long backboneIdleRate lets what the run sent settle
// before it watches the backbone.
const quiesce = 300 * time.Millisecond

// backboneIdleRate returns the bytes per second that cross srv's backbone
// over sample while the load generator sends nothing (after the run: right
// after start-up, routes and interest are still being set up); 0 when srv
// has none or sample is not positive.
func backboneIdleRate(ctx context.Context, srv gauge, sample time.Duration) float64 {
	c, ok := srv.(clusterGauge)
	if !ok || sample <= 0 || sleep(ctx, quiesce) != nil {
		return 0
	}
	before, ok, err := c.backbone(ctx)
	if !ok || err != nil {
		return 0
	}
	start := time.Now()
	if sleep(ctx, sample) != nil {
		return 0
	}
	after, ok, err := c.backbone(ctx)
	if !ok || err != nil || after < before {
		return 0
	}
	return float64(after-before) / time.Since(start).Seconds()
}

// startMeter starts a measured interval.
func startMeter(srv gauge) *meter {
	m := &meter{srv: srv}
	if c, ok := srv.(clusterGauge); ok {
		var err error
		m.brokerCPU, m.broker, err = c.brokerCPU()
		m.err = errors.Join(m.err, err)
		ctx, cancel := context.WithTimeout(context.Background(), backboneTimeout)
		// Without ss the backbone goes unmeasured; the run goes on.
		m.backboneStart, m.backbone, _ = c.backbone(ctx)
		cancel()
	}
	srvCPU, err := srv.cpu()
	m.srvCPU, m.err = srvCPU, errors.Join(m.err, err)
	m.clientCPU, _ = selfCPU()
	m.start = time.Now()
	return m
}

// stop ends the interval.
func (m *meter) stop() {
	m.elapsed = time.Since(m.start)
	srvCPU, err := m.srv.cpu()
	if m.err == nil {
		m.err = err
	}
	clientCPU, _ := selfCPU()
	m.srvUsed, m.selfUsed = srvCPU-m.srvCPU, clientCPU-m.clientCPU
	c, ok := m.srv.(clusterGauge)
	if !ok {
		return
	}
	if m.broker {
		brokerCPU, _, err := c.brokerCPU()
		m.brokerUsed, m.haveBroker = brokerCPU-m.brokerCPU, err == nil
	}
	if m.backbone {
		ctx, cancel := context.WithTimeout(context.Background(), backboneTimeout)
		bytes, ok, err := c.backbone(ctx)
		cancel()
		if ok && err == nil && bytes >= m.backboneStart {
			m.backboneUsed, m.haveBackbone = bytes-m.backboneStart, true
		}
	}
}

// fill writes the interval's rate and CPU figures for r.Ops operations,
// and the backbone's bytes per call (rpc) or message (r.Messages, fanout).
func (m *meter) fill(r *Result) {
	r.ElapsedSec = m.elapsed.Seconds()
	if r.ElapsedSec > 0 {
		r.Rate = float64(r.Ops) / r.ElapsedSec
	}
	r.ServerCPUUs = float64(m.srvUsed.Microseconds())
	if r.Ops > 0 {
		r.ServerCPUUsPerOp = r.ServerCPUUs / float64(r.Ops)
		r.ClientCPUUsPerOp = float64(m.selfUsed.Microseconds()) / float64(r.Ops)
		if m.haveBroker {
			r.BrokerCPUUsPerOp = float64(m.brokerUsed.Microseconds()) / float64(r.Ops)
		}
	}
	if m.haveBackbone {
		r.BackboneIdleBytesPerSec = m.idleRate
		r.BackboneBytes = m.backboneUsed - min(m.backboneUsed, uint64(m.idleRate*m.elapsed.Seconds()))
		messages := r.Ops
		if r.Scenario == "fanout" {
			messages = r.Messages
		}
		if messages > 0 {
			r.BackboneBytesPerMessage = float64(r.BackboneBytes) / float64(messages)
		}
	}
}
