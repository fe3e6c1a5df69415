// Command loadbench runs meshgate side by side with HAProxy, nginx and
// Caddy on this machine and prints a Markdown table of the results.
//
// It installs what is missing (nginx, haproxy, caddy, wrk, h2load) with
// apt-get, starts four identical backends (one nginx serving static files
// on four ports) and each proxy configured alike (round robin over the
// four backends, upstream keep-alive, the same worker budget, no access
// log except meshgate's, which stays on as in production), then runs every
// scenario against every target in turn (A B C D A B C D ...) for a
// number of repetitions. Everything listens on 127.0.0.1, every run is
// bounded, and every process it started is stopped when it ends or is
// interrupted.
//
//	go run ./bench/cmd/loadbench [-reps 3] [-duration 4s] [-threads 1] [-out results.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/bench/procstat"
	"github.com/meshgate/meshgate/bench/report"
)

type options struct {
	reps           int
	duration       time.Duration
	threads        int
	loadThreads    int
	backendWorkers int
	targets        []string
	scenarios      []string
	out            string
	meshgate       string
	install        bool
	keep           bool
	timeout        time.Duration
}

var allTargets = []string{"direct", "haproxy", "nginx", "caddy", "meshgate"}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("loadbench: ")
	var o options
	var targets, scens string
	flag.IntVar(&o.reps, "reps", 3, "repetitions of every scenario on every target")
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "length of one load-generator run")
	flag.IntVar(&o.threads, "threads", 1, "worker budget of every proxy: nginx worker_processes, HAProxy nbthread, GOMAXPROCS of Caddy and meshgate")
	flag.IntVar(&o.loadThreads, "load-threads", 2, "threads of wrk and h2load")
	flag.IntVar(&o.backendWorkers, "backend-workers", 1, "worker processes of the backend nginx")
	flag.StringVar(&targets, "targets", strings.Join(allTargets, ","), "targets to measure, in order (haproxy is the baseline of the ratios)")
	flag.StringVar(&scens, "scenarios", "", "scenarios to run (default all): "+scenarioNames())
	flag.StringVar(&o.out, "out", "", "also write the Markdown table to this file")
	flag.StringVar(&o.meshgate, "meshgate", "", "meshgate binary to measure (default: build ./cmd/meshgate)")
	flag.BoolVar(&o.install, "install", true, "install missing programs with apt-get")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configurations and logs)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "stop everything after this long")
	flag.Parse()
	o.targets = splitList(targets)
	o.scenarios = splitList(scens)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	var scs []scenario
	for _, sc := range scenarios() {
		if len(o.scenarios) == 0 || slices.Contains(o.scenarios, sc.name) {
			scs = append(scs, sc)
		}
	}
	if len(scs) == 0 {
		return fmt.Errorf("no scenario matches %v; known: %s", o.scenarios, scenarioNames())
	}
	for _, t := range o.targets {
		if !slices.Contains(allTargets, t) {
			return fmt.Errorf("unknown target %q; known: %s", t, strings.Join(allTargets, ","))
		}
	}
	raiseFileLimit()
	if err := ensureTools(ctx, o.install); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	// nginx workers run as an unprivileged user and serve files from it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if o.keep {
		log.Printf("work directory: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ps := &procs{dir: dir}
	defer ps.stopAll()

	e := &env{dir: dir, procs: ps, threads: o.threads, meshgate: o.meshgate}
	if slices.Contains(o.targets, "meshgate") && e.meshgate == "" {
		e.meshgate = filepath.Join(dir, "meshgate")
		log.Printf("building meshgate")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", e.meshgate, "./cmd/meshgate")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/meshgate (run loadbench from the repository root): %w", err)
		}
	}
	if err := e.writeCert(); err != nil {
		return err
	}
	direct, err := e.startBackends(ctx, o.backendWorkers)
	if err != nil {
		return fmt.Errorf("backends: %w", err)
	}

	starters := map[string]func(context.Context) (*target, error){
		"haproxy": e.startHAProxy, "nginx": e.startNginx, "caddy": e.startCaddy, "meshgate": e.startMeshgate,
	}
	var targets []*target
	failed := map[string]string{}
	for _, name := range o.targets {
		if name == "direct" {
			targets = append(targets, direct)
			continue
		}
		t, err := starters[name](ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Printf("%s did not start: %v", name, err)
			failed[name] = "did not start: " + err.Error()
			continue
		}
		log.Printf("started %s", t)
		targets = append(targets, t)
	}

	// Warm-up: connections, caches, JIT-free but GC-sized heaps.
	for _, t := range targets {
		if _, _, err := runLoad(ctx, dir, scs[0], t.h1, 2*time.Second, o.loadThreads); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}

	var runs []report.Run
	unsupported := map[string]string{}
	total := o.reps * len(scs) * len(targets)
	n := 0
	for rep := range o.reps {
		for _, sc := range scs {
			for _, t := range targets {
				n++
				a := sc.address(t)
				if a == "" {
					unsupported[sc.name+"/"+t.name] = unsupportedReason(sc, t)
					continue
				}
				r := measure(ctx, dir, sc, t, a, o)
				if ctx.Err() != nil {
					return fmt.Errorf("stopped after %d of %d runs: %w", n-1, total, ctx.Err())
				}
				log.Printf("[%d/%d] rep %d %-14s %-9s %8.0f req/s p99 %-8v errors %d %s", n, total, rep+1, sc.name, t.name, r.RPS, r.P99, r.Errors, r.Err)
				runs = append(runs, r)
				// Let TIME_WAIT sockets and the backends settle.
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	for name, why := range failed {
		for _, sc := range scs {
			runs = append(runs, report.Run{Scenario: sc.name, Target: name, Err: why})
		}
	}

	rep := report.Report{
		Title:       "Load benchmark",
		Command:     commandLine(),
		Started:     start,
		Duration:    time.Since(start),
		Machine:     machine(),
		Versions:    versions(ctx, e.meshgate),
		Notes:       notes(o),
		Baseline:    "haproxy",
		Runs:        runs,
		Unsupported: unsupported,
	}
	for _, sc := range scs {
		rep.Scenarios = append(rep.Scenarios, report.Named{Name: sc.name, Description: sc.desc})
	}
	for _, name := range o.targets {
		rep.Targets = append(rep.Targets, report.Named{Name: name})
	}
	md := rep.Markdown()
	fmt.Print(md)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(md), 0o644)
	}
	return nil
}

// measure runs one scenario against one target and charges the target's
// process tree for the CPU it used and the peak memory it reached.
func measure(ctx context.Context, dir string, sc scenario, t *target, address string, o options) report.Run {
	run := report.Run{Scenario: sc.name, Target: t.name}
	var before procstat.Usage
	if t.proc != nil {
		if t.proc.exited() {
			run.Err = fmt.Sprintf("%s exited: %v (see %s)", t.name, t.proc.err, t.proc.log)
			return run
		}
		if err := procstat.ResetPeak("/proc", t.proc.pid()); err != nil {
			log.Printf("%s: %v; peak RSS covers the whole process life", t.name, err)
		}
		var err error
		if before, err = procstat.Measure("/proc", t.proc.pid()); err != nil {
			run.Err = err.Error()
			return run
		}
	}
	r, _, err := runLoad(ctx, dir, sc, address, o.duration, o.loadThreads)
	if err != nil {
		run.Err = err.Error()
		return run
	}
	run.RPS, run.Requests, run.P50, run.P99, run.Errors = r.RPS, r.Requests, r.P50, r.P99, r.Errors
	if t.proc != nil {
		after, err := procstat.Measure("/proc", t.proc.pid())
		if err != nil {
			run.Err = err.Error()
			return run
		}
		run.HasCPU = true
		run.CPUSeconds = float64(after.CPUTicks-before.CPUTicks) / procstat.ClockTicks
		run.PeakRSS = after.PeakRSS
	}
	return run
}

func unsupportedReason(sc scenario, t *target) string {
	if t.name == "direct" {
		return "the backend speaks HTTP/1.1 only"
	}
	return "not supported by this target's configuration"
}

func notes(o options) []string {
	return []string{
		fmt.Sprintf("Each cell is the median of %d runs of %v; ratios in parentheses are to HAProxy's median in the same benchmark run. Scenarios and targets were interleaved (every target once per scenario, then the next scenario, then the next repetition).", o.reps, o.duration),
		fmt.Sprintf("Worker budget: every proxy gets %d worker(s): nginx `worker_processes %d`, HAProxy `nbthread %d` (one process), Caddy and meshgate `GOMAXPROCS=%d`. wrk and h2load run %d threads. Load generator, proxy and backends share the machine's cores over loopback.", o.threads, o.threads, o.threads, o.threads, o.loadThreads),
		fmt.Sprintf("Backends: one nginx (%d worker) serving static files on four ports, i.e. four upstream addresses; it is C, keeps every connection alive and costs every proxy the same. `direct` is wrk against one backend port: the ceiling of this machine.", o.backendWorkers),
		"Every proxy balances round robin over the four backends and keeps upstream connections alive (nginx `keepalive 1024`, HAProxy `http-reuse always`, Caddy's and meshgate's pools). nginx, HAProxy and Caddy have no access log; meshgate writes its access log (Istio's text format, to a file) and keeps its Prometheus metrics and trace propagation on, as in production.",
		"proxy CPU/req is the user+system CPU time of the proxy's whole process tree (/proc/PID/stat of every process, threads included) over the run, divided by the requests completed. peak RSS is the sum of VmHWM over that tree, reset before each run. errors are socket errors, timeouts and non-2xx/3xx responses summed over the runs.",
		"h2load prints no percentiles: p50 and p99 come from its per-request log. Caddy and meshgate serve h2c on their HTTP/1.1 port; nginx and HAProxy on a dedicated h2c port.",
	}
}

func scenarioNames() string {
	var names []string
	for _, sc := range scenarios() {
		names = append(names, sc.name)
	}
	return strings.Join(names, ",")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func commandLine() string {
	args := append([]string{"go run ./bench/cmd/loadbench"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

// raiseFileLimit lets 1,000 client connections (and as many upstream
// ones) through every process; children inherit the limit.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func init() {
	// The benchmark itself needs little; keep it off the proxies' cores.
	runtime.GOMAXPROCS(1)
}
