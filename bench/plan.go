package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/monologue-go/monologue/bench/plot"
)

// DefaultSweepK are the values of K a plot sweeps when none are given.
var DefaultSweepK = []int{1, 2, 4, 8, 16}

// Specs returns the specs of a command line: base's sizes for scenario
// ("all" for every scenario, in the order rpc, fanout, connect, idle).
// With sweepK, the rpc scenario runs once per value of K instead.
func Specs(scenario string, base Spec, sweepK []int) ([]Spec, error) {
	names := []string{scenario}
	if scenario == "all" {
		names = Scenarios
	} else if !slices.Contains(Scenarios, scenario) {
		return nil, fmt.Errorf("unknown scenario %q (want %s or all)", scenario, strings.Join(Scenarios, ", "))
	}
	var specs []Spec
	for _, name := range names {
		s := base
		s.Scenario = name
		if name == "rpc" && len(sweepK) > 0 {
			specs = append(specs, SweepK(s, sweepK)...)
			continue
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// ParseList splits a comma-separated list, dropping empty items.
func ParseList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ParseInts parses a comma-separated list of positive integers.
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, item := range ParseList(s) {
		v, err := strconv.Atoi(item)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", item)
		}
		out = append(out, v)
	}
	return out, nil
}

// SweepChart turns the rpc results that differ only by K into a chart: one
// line per peer, throughput and p99 against K. Failed runs are left out.
func SweepChart(title string, results []Result) plot.Chart {
	c := plot.Chart{Title: title, XLabel: "K: calls in flight per caller"}
	index := map[string]int{}
	for _, r := range results {
		if r.Scenario != "rpc" || r.Error != "" || r.Ops == 0 {
			continue
		}
		i, ok := index[r.Peer]
		if !ok {
			i = len(c.Series)
			index[r.Peer] = i
			c.Series = append(c.Series, plot.Series{Name: r.Peer})
		}
		c.Series[i].Points = append(c.Series[i].Points, plot.Point{X: float64(r.K), Rate: r.Rate, P99: r.LatencyUs.P99})
	}
	return c
}
