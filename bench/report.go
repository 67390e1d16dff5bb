package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// summary is the one-line progress report of a result.
func summary(r Result) string {
	if r.Error != "" && r.Ops == 0 {
		return "FAILED: " + r.Error
	}
	s := fmt.Sprintf("%s/s %s  p50 %s µs  p99 %s µs  server CPU %s µs/op  errors %d",
		number(r.Rate), r.Unit, number(r.LatencyUs.P50), number(r.LatencyUs.P99), number(r.ServerCPUUsPerOp), r.Errors)
	if r.Scenario == "idle" {
		s += fmt.Sprintf("  RSS %s/conn  heap %s/conn", bytesize(r.RSSPerConn), bytesize(r.HeapPerConn))
	}
	if r.Error != "" {
		s += "  (" + r.Error + ")"
	}
	return s
}

// ratio returns r's ratio to the monologue result of the same spec:
// throughput for rpc, fanout and connect, resident memory per connection
// for idle. ok is false when there is no such monologue result.
func ratio(r Result, all []Result) (float64, bool) {
	for _, m := range all {
		if m.Peer != "monologue" || m.Spec.String() != r.Spec.String() || m.Error != "" {
			continue
		}
		if r.Scenario == "idle" {
			if m.RSSPerConn > 0 {
				return r.RSSPerConn / m.RSSPerConn, true
			}
			return 0, false
		}
		if m.Rate > 0 {
			return r.Rate / m.Rate, true
		}
	}
	return 0, false
}

// columns are the table's headings, shared by text and markdown; see
// columnsOf for the ones a table shows.
var columns = []string{"scenario", "peer", "rate /s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs",
	"server CPU µs/op", "client CPU µs/op", "RSS/conn", "heap/conn", "errors", "vs monologue", "load before"}

// clusterColumns are the headings of the columns of runs on several
// nodes: the bytes that crossed between the servers per call or message
// published, and the server CPU per operation over the same peer's on one
// node.
var clusterColumns = []string{"backbone B/msg", "CPU/op vs 1 node"}

// columnsOf returns the headings of a table of results: columns, and
// clusterColumns in place of the idle ones (RSS/conn, heap/conn) when some
// results ran on nodes and none is idle.
func columnsOf(results []Result) []string {
	if !clusterTable(results) {
		return columns
	}
	var out []string
	for _, c := range columns {
		switch c {
		case "RSS/conn", "heap/conn":
		case "errors":
			out = append(out, clusterColumns...)
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

// clusterTable reports whether a table of results shows clusterColumns:
// some results ran on nodes, and none is idle.
func clusterTable(results []Result) bool {
	nodes, idle := false, false
	for _, r := range results {
		nodes = nodes || r.Nodes > 0
		idle = idle || r.Scenario == "idle"
	}
	return nodes && !idle
}

func row(r Result, all []Result) []string {
	cells := []string{r.Spec.String(), r.Peer}
	if r.Error != "" && r.Ops == 0 {
		return append(cells, "failed: "+firstLine(r.Error))
	}
	vs := "—"
	if x, ok := ratio(r, all); ok {
		vs = fmt.Sprintf("%.2f×", x)
	}
	rss, heap := "", ""
	if r.Scenario == "idle" {
		rss, heap = bytesize(r.RSSPerConn), bytesize(r.HeapPerConn)
	}
	errs := fmt.Sprint(r.Errors)
	if r.Error != "" {
		errs += " (" + firstLine(r.Error) + ")"
	}
	load := fmt.Sprintf("%.2f", r.Machine.Load1)
	if len(r.Machine.Busy) > 0 {
		var busy []string
		for _, b := range r.Machine.Busy {
			busy = append(busy, fmt.Sprintf("%.0f%%", 100*b))
		}
		load += " (" + strings.Join(busy, "/") + ")"
	}
	backbone, vsOne := "", ""
	if r.BackboneBytes > 0 {
		backbone = number(r.BackboneBytesPerMessage)
	}
	if x, ok := cpuRatioToOneNode(r, all); ok {
		vsOne = fmt.Sprintf("%.2f×", x)
	}
	byColumn := map[string]string{
		"rate /s": number(r.Rate) + " " + r.Unit,
		"p50 µs":  number(r.LatencyUs.P50), "p90 µs": number(r.LatencyUs.P90),
		"p99 µs": number(r.LatencyUs.P99), "p99.9 µs": number(r.LatencyUs.P999),
		"server CPU µs/op": number(r.ServerCPUUsPerOp), "client CPU µs/op": number(r.ClientCPUUsPerOp),
		"RSS/conn": rss, "heap/conn": heap, "errors": errs, "vs monologue": vs, "load before": load,
		"backbone B/msg": backbone, "CPU/op vs 1 node": vsOne,
	}
	for _, c := range columnsOf(all)[2:] {
		cells = append(cells, byColumn[c])
	}
	return cells
}

// cpuRatioToOneNode returns r's server CPU per operation over that of the
// same peer on one node (Nodes == 1) for the same sizes. ok is false when
// r ran on one node or there is no such result.
func cpuRatioToOneNode(r Result, all []Result) (float64, bool) {
	if r.Nodes <= 1 || r.ServerCPUUsPerOp == 0 {
		return 0, false
	}
	one := r.Spec
	one.Nodes = 1
	for _, o := range all {
		if o.Peer == r.Peer && o.Spec.String() == one.String() && o.Error == "" && o.ServerCPUUsPerOp > 0 {
			return r.ServerCPUUsPerOp / o.ServerCPUUsPerOp, true
		}
	}
	return 0, false
}

// WriteTable writes results as an aligned text table, for people.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columnsOf(results), "\t"))
	for _, r := range results {
		fmt.Fprintln(tw, strings.Join(row(r, results), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteMarkdown writes results as a markdown table, for BENCHMARKS.md,
// with a line saying how they were measured.
func WriteMarkdown(w io.Writer, results []Result) error {
	var b strings.Builder
	cols := columnsOf(results)
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(cols)) + "\n")
	pinned := len(results) > 0
	for _, r := range results {
		cells := row(r, results)
		for len(cells) < len(cols) {
			cells = append(cells, "")
		}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		pinned = pinned && r.Pinned
	}
	b.WriteString("\n")
	if pinned {
		b.WriteString("Servers pinned to core 0 (taskset), load generator to core 1.")
	} else {
		b.WriteString("Not pinned: servers and load generator shared the cores.")
	}
	b.WriteString(" Rates are verified operations per second; latencies in µs; server CPU from /proc/PID/stat " +
		"(10 ms ticks) over the measured interval; \"vs monologue\" is the rate ratio (idle: RSS per connection ratio); " +
		"\"load before\" is the 1-minute load average and each core's busy share just before the run.")
	if clusterTable(results) {
		b.WriteString(" On several nodes, server CPU is that of every process (nodes, and Redis for Socket.IO); " +
			"\"backbone B/msg\" is what crossed between the servers (NATS routes, or to and from Redis), either way, " +
			"per call or per message published; \"CPU/op vs 1 node\" is the server CPU per operation over the same peer's on one node.")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}

// WriteJSONLines writes one JSON object per result and line, for tools.
func WriteJSONLines(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}

// number formats a measurement with about three significant digits.
func number(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100_000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// bytesize formats a byte count in KiB.
func bytesize(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f KiB", v/1024)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
