package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/bench/loadgen"
)

// scenario is one load shape.
type scenario struct {
	name, desc string
	// proto is "h1", "h2c" or "tls" (HTTP/2 over TLS): which of a
	// target's listeners it uses.
	proto string
	path  string
	conns int
	// streams is h2load's concurrent streams per connection.
	streams int
	close   bool
}

func scenarios() []scenario {
	return []scenario{
		{name: "h1-100B-64c", desc: "HTTP/1.1 keep-alive, 100 B response, 64 connections (wrk)", proto: "h1", path: "/100", conns: 64},
		{name: "h1-4KiB-64c", desc: "HTTP/1.1 keep-alive, 4 KiB response, 64 connections (wrk)", proto: "h1", path: "/4k", conns: 64},
		{name: "h1-64KiB-64c", desc: "HTTP/1.1 keep-alive, 64 KiB response, 64 connections (wrk)", proto: "h1", path: "/64k", conns: 64},
		{name: "h1-100B-1000c", desc: "HTTP/1.1 keep-alive, 100 B response, 1,000 connections (wrk)", proto: "h1", path: "/100", conns: 1000},
		{name: "h1-close-100B", desc: "HTTP/1.1, a new connection per request (`Connection: close`), 100 B, 64 connections (wrk)", proto: "h1", path: "/100", conns: 64, close: true},
		{name: "h2c-100B", desc: "HTTP/2 cleartext with prior knowledge, 100 B, 16 connections × 4 streams (h2load)", proto: "h2c", path: "/100", conns: 16, streams: 4},
		{name: "h2-tls-100B", desc: "HTTP/2 over TLS (ALPN h2), 100 B, 16 connections × 4 streams (h2load); the handshakes are part of the run", proto: "tls", path: "/100", conns: 16, streams: 4},
	}
}

// address returns the listener of t that sc uses, or "" when t has none.
func (sc scenario) address(t *target) string {
	switch sc.proto {
	case "h2c":
		return t.h2c
	case "tls":
		return t.tls
	}
	return t.h1
}

// runLoad drives one load-generator run and returns its parsed result
// and the command line.
func runLoad(ctx context.Context, dir string, sc scenario, target string, d time.Duration, threads int) (loadgen.Result, []string, error) {
	secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	var argv []string
	var logFile string
	switch sc.proto {
	case "h1":
		argv = []string{"wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(sc.conns), "-d", secs + "s", "--latency"}
		if sc.close {
			argv = append(argv, "-H", "Connection: close")
		}
		argv = append(argv, "http://"+target+sc.path)
	default:
		scheme := "http"
		if sc.proto == "tls" {
			scheme = "https"
		}
		logFile = filepath.Join(dir, "h2load.log")
		_ = os.Remove(logFile) // h2load appends
		argv = []string{"h2load", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(sc.conns), "-m", strconv.Itoa(sc.streams),
			"-D", secs, "--log-file=" + logFile, scheme + "://" + target + sc.path}
	}
	// The generator stops by itself after d; the margin covers a stuck
	// one.
	runCtx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return loadgen.Result{}, argv, ctx.Err()
	}
	var r loadgen.Result
	var perr error
	if sc.proto == "h1" {
		r, perr = loadgen.ParseWrk(out.String())
	} else {
		r, perr = loadgen.ParseH2load(out.String())
		if perr == nil {
			b, rerr := os.ReadFile(logFile)
			if rerr != nil {
				perr = rerr
			} else {
				r.P50, r.P99, perr = loadgen.ParseH2loadLog(string(b))
			}
		}
	}
	if perr != nil {
		if err != nil {
			perr = fmt.Errorf("%s: %v: %w", argv[0], err, perr)
		}
		return r, argv, perr
	}
	return r, argv, nil
}
