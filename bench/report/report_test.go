package report

import (
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMarkdownGolden renders a report with three repetitions per target,
// a failed run, a run that had errors, a target without a process of its
// own, and an unsupported scenario, and compares it with
// testdata/report.md.
func TestMarkdownGolden(t *testing.T) {
	ms := time.Millisecond
	r := Report{
		Title:   "Load: example",
		Command: "go run ./bench/cmd/loadbench -reps 3",
		Started: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), Duration: 9*time.Minute + 31*time.Second,
		Machine:  Machine{CPUs: 2, CPUModel: "Intel(R) Xeon(R) Processor @ 2.50GHz", Kernel: "6.18.44"},
		Versions: [][2]string{{"haproxy", "2.6.12"}, {"wrk", "4.1.0"}},
		Notes:    []string{"every proxy runs one worker"},
		Scenarios: []Named{
			{Name: "h1-100B-64c", Description: "HTTP/1.1 keep-alive, 100 B, 64 connections"},
			{Name: "h2c-100B", Description: "h2c"},
		},
		Targets:     []Named{{Name: "direct"}, {Name: "haproxy"}, {Name: "meshgate"}},
		Unsupported: map[string]string{"h2c-100B/direct": "backend speaks HTTP/1.1 only"},
		Baseline:    "haproxy",
		Runs: []Run{
			// Values from the captured wrk outputs in bench/loadgen/testdata.
			{Scenario: "h1-100B-64c", Target: "direct", RPS: 42265.99, Requests: 94233, P50: 1140 * time.Microsecond, P99: 6680 * time.Microsecond},
			{Scenario: "h1-100B-64c", Target: "direct", RPS: 47000, Requests: 100000, P50: ms, P99: 6 * ms},
			{Scenario: "h1-100B-64c", Target: "haproxy", RPS: 30000, Requests: 90000, P50: 2 * ms, P99: 6 * ms, CPUSeconds: 1.8, HasCPU: true, PeakRSS: 10 << 20},
			{Scenario: "h1-100B-64c", Target: "haproxy", RPS: 34000, Requests: 102000, P50: 2 * ms, P99: 5 * ms, CPUSeconds: 2.04, HasCPU: true, PeakRSS: 12 << 20},
			{Scenario: "h1-100B-64c", Target: "haproxy", RPS: 32000, Requests: 96000, P50: 2 * ms, P99: 7 * ms, CPUSeconds: 2.1, HasCPU: true, PeakRSS: 11 << 20},
			{Scenario: "h1-100B-64c", Target: "meshgate", RPS: 16000, Requests: 48000, P50: 4 * ms, P99: 12 * ms, CPUSeconds: 3, HasCPU: true, PeakRSS: 30 << 20, Errors: 3},
			{Scenario: "h1-100B-64c", Target: "meshgate", Err: "wrk: exit status 1"},
			{Scenario: "h2c-100B", Target: "haproxy", Err: "h2load: no request was made"},
			{Scenario: "h2c-100B", Target: "meshgate", RPS: 32072.67, Requests: 96218, P50: 1986 * time.Microsecond, P99: 6213 * time.Microsecond, CPUSeconds: 2.5, HasCPU: true, PeakRSS: 25 << 20},
		},
	}
	got := r.Markdown()
	const path = "testdata/report.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Markdown() differs from %s:\n%s", path, got)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
