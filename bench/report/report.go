// Package report renders the load benchmark's runs as Markdown: one table
// per scenario with the median of each measure over the repetitions and
// its ratio to the baseline proxy measured in the same run.
package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Run is one load-generator run against one target.
type Run struct {
	Scenario, Target string
	RPS              float64
	Requests         int64
	P50, P99         time.Duration
	Errors           int64
	// CPUSeconds is the target's CPU time over the run; HasCPU is false
	// when the target has no process of its own (a direct backend).
	CPUSeconds float64
	HasCPU     bool
	// PeakRSS is the target's peak resident set in bytes.
	PeakRSS uint64
	// Err is set when the run produced no measurement.
	Err string
}

// Machine describes where the runs took place.
type Machine struct {
	CPUs     int
	CPUModel string
	Kernel   string
}

// Named is a scenario or target with a description.
type Named struct{ Name, Description string }

// Report is everything a results page shows.
type Report struct {
	Title    string
	Command  string
	Started  time.Time
	Duration time.Duration
	Machine  Machine
	// Versions lists each program and its version, in display order.
	Versions [][2]string
	// Notes are method details printed above the tables.
	Notes []string
	// Scenarios and Targets are in display order; a target missing from a
	// scenario's runs is shown as n/a (Unsupported says why).
	Scenarios   []Named
	Targets     []Named
	Unsupported map[string]string // "scenario/target" → reason
	// Baseline is the target ratios are computed against.
	Baseline string
	Runs     []Run
}

// summary is the medians of one target in one scenario.
type summary struct {
	runs, failed   int
	rps            float64
	p50, p99       time.Duration
	errors         int64
	cpuPerReq      float64 // seconds
	hasCPU         bool
	peakRSS        float64
	firstErr       string
	anyMeasurement bool
}

func summarize(runs []Run) summary {
	var s summary
	var rps, p50, p99, cpu, rss []float64
	for _, r := range runs {
		s.runs++
		if r.Err != "" {
			s.failed++
			if s.firstErr == "" {
				s.firstErr = r.Err
			}
			continue
		}
		s.anyMeasurement = true
		rps = append(rps, r.RPS)
		p50 = append(p50, float64(r.P50))
		p99 = append(p99, float64(r.P99))
		s.errors += r.Errors
		if r.HasCPU && r.Requests > 0 {
			s.hasCPU = true
			cpu = append(cpu, r.CPUSeconds/float64(r.Requests))
		}
		if r.PeakRSS > 0 {
			rss = append(rss, float64(r.PeakRSS))
		}
	}
	s.rps, s.cpuPerReq, s.peakRSS = median(rps), median(cpu), median(rss)
	s.p50, s.p99 = time.Duration(median(p50)), time.Duration(median(p99))
	return s
}

// median returns the median of v (mean of the middle two for an even
// count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Markdown renders the report.
func (r Report) Markdown() string {
	var b strings.Builder
	if r.Title != "" {
		fmt.Fprintf(&b, "## %s\n\n", r.Title)
	}
	fmt.Fprintf(&b, "Command:\n\n    %s\n\n", r.Command)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, Linux %s", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel)
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, "; run %s, %s", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Duration.Round(time.Second))
	}
	b.WriteString(".\n\n")
	if len(r.Versions) > 0 {
		b.WriteString("Versions: ")
		for i, v := range r.Versions {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s", v[0], v[1])
		}
		b.WriteString(".\n\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, sc := range r.Scenarios {
		r.scenarioTable(&b, sc)
	}
	return b.String()
}

func (r Report) scenarioTable(b *strings.Builder, sc Named) {
	fmt.Fprintf(b, "### %s\n\n", sc.Name)
	if sc.Description != "" {
		fmt.Fprintf(b, "%s\n\n", sc.Description)
	}
	byTarget := map[string][]Run{}
	for _, run := range r.Runs {
		if run.Scenario == sc.Name {
			byTarget[run.Target] = append(byTarget[run.Target], run)
		}
	}
	base := summarize(byTarget[r.Baseline])
	baseOK := base.anyMeasurement
	b.WriteString("| target | req/s | p50 | p99 | errors | proxy CPU/req | peak RSS | runs |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.Targets {
		runs := byTarget[t.Name]
		if len(runs) == 0 {
			reason := r.Unsupported[sc.Name+"/"+t.Name]
			if reason == "" {
				reason = "not run"
			}
			fmt.Fprintf(b, "| %s | n/a | | | | | | %s |\n", t.Name, reason)
			continue
		}
		s := summarize(runs)
		if !s.anyMeasurement {
			fmt.Fprintf(b, "| %s | failed | | | | | | 0/%d: %s |\n", t.Name, s.runs, escape(s.firstErr))
			continue
		}
		ratio := func(v, bv float64) string {
			if !baseOK || bv == 0 || t.Name == r.Baseline {
				return ""
			}
			return fmt.Sprintf(" (%.2f×)", v/bv)
		}
		cpu, rss := "—", "—"
		if s.hasCPU {
			cpu = fmt.Sprintf("%.1f µs%s", s.cpuPerReq*1e6, ratio(s.cpuPerReq, base.cpuPerReq))
		}
		if s.peakRSS > 0 && s.hasCPU {
			rss = fmt.Sprintf("%.1f MiB%s", s.peakRSS/(1<<20), ratio(s.peakRSS, base.peakRSS))
		}
		runsCol := fmt.Sprintf("%d", s.runs)
		if s.failed > 0 {
			runsCol = fmt.Sprintf("%d/%d: %s", s.runs-s.failed, s.runs, escape(s.firstErr))
		}
		fmt.Fprintf(b, "| %s | %.0f%s | %s | %s%s | %d | %s | %s | %s |\n",
			t.Name, s.rps, ratio(s.rps, base.rps),
			formatLatency(s.p50),
			formatLatency(s.p99), ratio(float64(s.p99), float64(base.p99)),
			s.errors, cpu, rss, runsCol)
	}
	b.WriteString("\n")
}

// formatLatency prints a latency with three significant digits in the
// unit wrk uses for it.
func formatLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

func escape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
