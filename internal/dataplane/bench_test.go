package dataplane

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
)

// rawBackend answers every request head on a keep-alive connection with a
// fixed 100-byte response, allocating nothing per request, so that a
// benchmark's allocations are the gateway's own.
func rawBackend(b *testing.B) string {
	b.Helper()
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					// Benchmark requests carry no body.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := conn.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkProxiedRequestRaw measures one routed, load-balanced HTTP/1.1
// request through the gateway with a raw keep-alive client and raw
// backends, which allocate nothing per request: allocs/op is the
// gateway's. Four endpoints, round robin, outlier detection, access log
// (to a discarding handler) and metrics on, Istio's default retry policy.
func BenchmarkProxiedRequestRaw(b *testing.B) {
	var addrs []string
	for range 4 {
		addrs = append(addrs, rawBackend(b))
	}
	c := cluster("c", snapshot.LBRoundRobin, addrs...)
	c.Outlier = &snapshot.OutlierPolicy{Consecutive5xx: 5, Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionPercent: 10}
	snap := oneRouteSnapshot(routeTo("c"), c)
	snap.Seal()
	rec := metrics.New(metrics.Options{})
	rec.Apply(snap)
	srv := New(Options{
		AccessLog: accesslog.New(io.Discard, accesslog.Options{Format: accesslog.Text, SamplePercent: 100}),
		Metrics:   rec,
	})
	defer srv.Close()
	srv.Apply(snap)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(SocketAddress(snap.Listeners[0]))}
	go hs.Serve(ln)
	defer hs.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte("GET /bench?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(conn, 4096)
	body := make([]byte, 100)
	roundTrip := func() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		length := -1
		status := ""
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if status == "" {
				status = string(line[9:12])
			}
			if len(line) <= 2 {
				break
			}
			if bytes.HasPrefix(line, []byte("Content-Length: ")) {
				length = 0
				for _, c := range bytes.TrimSpace(line[16:]) {
					length = length*10 + int(c-'0')
				}
			}
		}
		if status != "200" || length != len(body) {
			b.Fatalf("status %s, length %d", status, length)
		}
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip() // warm the pools
	b.ReportAllocs()
	for b.Loop() {
		roundTrip()
	}
}
