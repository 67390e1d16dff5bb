package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/monologue-go/monologue/bench"
	"github.com/monologue-go/monologue/bench/plot"
)

// writeMarkdown writes --markdown: the measured runs' table, then the
// sweep's, ready to paste into BENCHMARKS.md.
func writeMarkdown(cfg config, measured, swept []bench.Result) error {
	var b strings.Builder
	title := "monologue-bench"
	if cfg.preset != "" {
		title += " --preset " + cfg.preset
	}
	fmt.Fprintf(&b, "### %s (%s)\n\n", title, time.Now().UTC().Format("2006-01-02"))
	if len(measured) > 0 {
		if err := bench.WriteMarkdown(&b, measured); err != nil {
			return err
		}
	}
	if len(swept) > 0 {
		fmt.Fprintf(&b, "\n#### rpc, K swept (%s)\n\n", swept[0].Spec)
		if err := bench.WriteMarkdown(&b, swept); err != nil {
			return err
		}
		if cfg.plotFile != "" {
			fmt.Fprintf(&b, "\n![calls/s and p99 against K](%s)\n", cfg.plotFile)
		}
	}
	if err := os.WriteFile(cfg.markdownFile, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write --markdown file: %w", err)
	}
	return nil
}

// writePlot draws --plot: calls/s and p99 of the rpc sweep against K.
func writePlot(cfg config, swept []bench.Result) error {
	if len(swept) == 0 {
		return errors.New("--plot: no sweep results")
	}
	s := swept[0]
	title := fmt.Sprintf("monologue-bench: rpc P=%d S=%d, %s each", s.P, s.S, s.Duration)
	if s.Pinned {
		title += ", server and load generator pinned to separate cores"
	}
	f, err := os.Create(cfg.plotFile)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if err := plot.WritePNG(f, bench.SweepChart(title, swept)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}
