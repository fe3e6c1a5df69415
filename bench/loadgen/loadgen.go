// Package loadgen reads the reports of the load generators the load
// benchmark drives, wrk and h2load, into one Result.
package loadgen

import (
	"bufio"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what one load-generator run measured.
type Result struct {
	// Requests is the number of completed requests in the measured
	// interval, RPS the rate the generator reports for it.
	Requests int64
	RPS      float64
	// P50 and P99 are latency percentiles.
	P50, P99 time.Duration
	// Errors counts socket errors, timeouts and responses that are not
	// 2xx or 3xx.
	Errors int64
}

var (
	wrkTotal     = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+\w+),`)
	wrkRPS       = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkPercent   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkSocketErr = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx    = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk reads the output of `wrk --latency`.
func ParseWrk(out string) (Result, error) {
	var r Result
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk: no \"N requests in T\" line in output: %s", firstLine(out))
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	m = wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk: no Requests/sec line")
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	found := 0
	for _, m := range wrkPercent.FindAllStringSubmatch(out, -1) {
		d, err := parseDuration(m[2], m[3])
		if err != nil {
			return r, fmt.Errorf("wrk: latency %s%s: %w", m[2], m[3], err)
		}
		if m[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
		found++
	}
	if found != 2 {
		return r, fmt.Errorf("wrk: no latency distribution (run wrk with --latency)")
	}
	if m := wrkSocketErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.Errors += n
	}
	return r, nil
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in [^,]+, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
)

// ParseH2load reads the summary h2load prints. h2load prints no latency
// percentiles; they come from its --log-file (see ParseH2loadLog).
func ParseH2load(out string) (Result, error) {
	var r Result
	m := h2Finished.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load: no \"finished in\" line in output: %s", firstLine(out))
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	m = h2Requests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load: no \"requests:\" line")
	}
	n := make([]int64, len(m)-1)
	for i, s := range m[1:] {
		n[i], _ = strconv.ParseInt(s, 10, 64)
	}
	total, done, failed, timeout := n[0], n[2], n[4], n[6]
	r.Requests = done
	// "failed" already includes "errored" (stream and connection errors)
	// and HTTP-level failures (status outside 2xx and 3xx).
	r.Errors = failed + timeout
	if total == 0 {
		return r, fmt.Errorf("h2load: no request was made")
	}
	return r, nil
}

// ParseH2loadLog reads an h2load --log-file (one line per request: start
// time in µs, status code, duration in µs, tab-separated) and returns the
// 50th and 99th latency percentiles.
func ParseH2loadLog(log string) (p50, p99 time.Duration, err error) {
	var ds []time.Duration
	sc := bufio.NewScanner(strings.NewReader(log))
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return 0, 0, fmt.Errorf("h2load log line %d: want 3 tab-separated fields, got %q", line, sc.Text())
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || us < 0 {
			return 0, 0, fmt.Errorf("h2load log line %d: duration %q is not a number of microseconds", line, f[2])
		}
		ds = append(ds, time.Duration(us)*time.Microsecond)
	}
	if len(ds) == 0 {
		return 0, 0, fmt.Errorf("h2load log: no requests")
	}
	slices.Sort(ds)
	return Percentile(ds, 50), Percentile(ds, 99), nil
}

// Percentile returns the p-th percentile of sorted by the nearest-rank
// method.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func parseDuration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	switch unit {
	case "us":
		return time.Duration(v * float64(time.Microsecond)), nil
	case "ms":
		return time.Duration(v * float64(time.Millisecond)), nil
	case "s":
		return time.Duration(v * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("unknown unit %q", unit)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return strconv.Quote(s)
}
