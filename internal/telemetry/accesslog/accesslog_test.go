package accesslog

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var start = time.Date(2026, 11, 22, 5, 41, 7, 409_000_000, time.UTC)

// records covers the outcomes the gateway logs: a proxied request, local
// errors with their flags, retries, a direct response, an L4 connection,
// and values that need escaping.
var records = []struct {
	name string
	rec  Record
}{
	{"proxied", Record{
		Start: start, Method: "GET", Path: "/status/418?x=1", Protocol: "HTTP/1.1", Authority: "httpbin.example.com",
		Status: 418, BytesSent: 135, Duration: 4 * time.Millisecond, UpstreamServiceTime: 3 * time.Millisecond,
		UpstreamHost: "10.44.1.27:80", UpstreamCluster: "outbound|8000||httpbin.default.svc.cluster.local",
		UpstreamAttempts: 1, RouteName: "httpbin.default.0",
		DownstreamRemoteAddress: "10.44.1.23:37652", DownstreamLocalAddress: &net.TCPAddr{IP: net.IPv4(10, 44, 1, 5), Port: 8080},
		UserAgent: "curl/8.5.0", RequestID: "84961386-6d84-929d-98bd-c5aee93b5c88",
	}},
	{"no route", Record{
		Start: start, Method: "GET", Path: "/nowhere", Protocol: "HTTP/1.1", Authority: "unknown.example.com",
		Status: 404, Flags: NoRoute, DownstreamRemoteAddress: "127.0.0.1:50000",
		XForwardedFor: "203.0.113.7", RequestID: "c1b3a1f0-0000-4000-8000-000000000001",
	}},
	{"no healthy upstream", Record{
		Start: start, Method: "POST", Path: "/orders", Protocol: "HTTP/2.0", Authority: "shop.example.com",
		Status: 503, Flags: NoHealthyUpstream, BytesReceived: 42, BytesSent: 19, Duration: time.Millisecond,
		UpstreamCluster: "outbound|80|v2|orders.shop.svc.cluster.local", RouteName: "orders",
		DownstreamRemoteAddress: "[2001:db8::1]:443", RequestedServerName: "shop.example.com",
	}},
	{"retries exhausted", Record{
		Start: start, Method: "GET", Path: "/", Protocol: "HTTP/1.1", Authority: "a.example.com",
		Status: 503, Flags: UpstreamConnectionFailure | UpstreamRetryLimitExceeded, BytesSent: 91,
		Duration: 12 * time.Millisecond, UpstreamHost: "10.0.0.3:8080", UpstreamCluster: "outbound|80||a.default.svc.cluster.local",
		UpstreamAttempts: 3, RouteName: "a",
	}},
	{"upstream TLS refused", Record{
		Start: start, Method: "GET", Path: "/", Protocol: "HTTP/1.1", Authority: "api.example.com",
		Status: 503, Flags: UpstreamConnectionFailure, BytesSent: 180, Duration: 3 * time.Millisecond,
		UpstreamHost: "10.0.0.4:443", UpstreamCluster: "outbound|443||api.example.com", UpstreamAttempts: 3, RouteName: "api",
		UpstreamTransportFailureReason: "upstream TLS handshake failed: endpoint certificate: x509: certificate signed by unknown authority",
	}},
	{"direct response", Record{
		Start: start, Method: "GET", Path: "/healthz", Protocol: "HTTP/1.1", Authority: "a.example.com",
		Status: 200, BytesSent: 2, RouteName: "health",
	}},
	{"tcp connection", Record{
		Start: start, Protocol: "tcp", Authority: "db.example.com", BytesReceived: 512, BytesSent: 2048,
		Duration: 1500 * time.Millisecond, UpstreamHost: "10.0.0.9:5432", UpstreamCluster: "outbound|5432||db.default.svc.cluster.local",
		RouteName: "db", DownstreamRemoteAddress: "192.0.2.1:40000",
	}},
	{"escaping", Record{
		Start: start, Method: "GET", Path: "/caf%C3%A9", Protocol: "HTTP/1.1", Authority: "a.example.com",
		Status: 200, UserAgent: "say \"hi\"\\\x01 café \xff", UpstreamServiceTime: time.Millisecond,
		UpstreamHost: "10.0.0.3:8080", UpstreamAttempts: 1,
	}},
}

func TestGolden(t *testing.T) {
	for _, f := range []Format{Text, JSON} {
		t.Run(f.String(), func(t *testing.T) {
			var buf bytes.Buffer
			lg := New(&buf, Options{Format: f, SamplePercent: 100})
			for _, r := range records {
				lg.Log(&r.rec)
			}
			if err := lg.Close(); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", f.String()+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("%s format differs from %s (run with -update after an intended change)\ngot:\n%s\nwant:\n%s", f, golden, got, want)
			}
		})
	}
}

// istioJSONKeys are the keys of Istio's default JSON access log
// (EnvoyJSONLogFormatIstio).
var istioJSONKeys = []string{
	"authority", "bytes_received", "bytes_sent", "connection_termination_details",
	"downstream_local_address", "downstream_remote_address", "duration", "method", "path",
	"protocol", "request_id", "requested_server_name", "response_code", "response_code_details",
	"response_flags", "route_name", "start_time", "upstream_cluster", "upstream_host",
	"upstream_local_address", "upstream_service_time", "upstream_transport_failure_reason",
	"user_agent", "x_forwarded_for",
}

// Every JSON line is valid JSON with Istio's keys (plus the attempt
// count) and the values a log query filters on.
func TestJSONLines(t *testing.T) {
	for _, r := range records {
		line := appendJSON(nil, &r.rec)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v\n%s", r.name, err, line)
		}
		var keys []string
		for k := range m {
			if k != "upstream_request_attempt_count" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if strings.Join(keys, " ") != strings.Join(istioJSONKeys, " ") {
			t.Errorf("%s: keys %v, want Istio's %v", r.name, keys, istioJSONKeys)
		}
		if m["response_flags"] != r.rec.Flags.String() || m["response_code"] != float64(r.rec.Status) ||
			m["upstream_request_attempt_count"] != float64(r.rec.UpstreamAttempts) {
			t.Errorf("%s: %s", r.name, line)
		}
		if r.rec.UserAgent != "" && !strings.HasPrefix(m["user_agent"].(string), strings.ToValidUTF8(r.rec.UserAgent, "\uFFFD")[:5]) {
			t.Errorf("%s: user_agent %q", r.name, m["user_agent"])
		}
	}
}

// A text line is one line whatever the header values hold, with the
// fields where Istio's format puts them.
func TestTextFields(t *testing.T) {
	for _, r := range records {
		line := string(appendText(nil, &r.rec))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("%s: not one line: %q", r.name, line)
		}
		fields := strings.Fields(strings.SplitN(line, `" `, 2)[1])
		if fields[0] != strconv.Itoa(r.rec.Status) || fields[1] != r.rec.Flags.String() {
			t.Errorf("%s: code and flags %v", r.name, fields[:2])
		}
		if last := fields[len(fields)-1]; last != orDash(r.rec.RouteName) {
			t.Errorf("%s: route name %q", r.name, last)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Failures are always logged; successes at the sampling rate.
func TestSampling(t *testing.T) {
	ok := Record{Start: start, Method: "GET", Path: "/", Status: 200}
	failed := []Record{
		{Start: start, Status: 503, Flags: NoHealthyUpstream},
		{Start: start, Status: 500},
		{Start: start, Status: 404, Flags: NoRoute},
	}
	tests := []struct {
		percent  float64
		min, max int // successes logged out of n
	}{
		{0, 0, 0},
		{100, 4000, 4000},
		{25, 800, 1200}, // 1000 expected; ±200 is over 7 standard deviations
	}
	const n = 4000
	for _, tc := range tests {
		var buf bytes.Buffer
		lg := New(&buf, Options{Format: Text, SamplePercent: tc.percent})
		for range n {
			lg.Log(&ok)
		}
		for i := range failed {
			lg.Log(&failed[i])
		}
		_ = lg.Close()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		got := 0
		errs := 0
		for _, l := range lines {
			switch {
			case strings.Contains(l, `" 200 `):
				got++
			case l != "":
				errs++
			}
		}
		if got < tc.min || got > tc.max {
			t.Errorf("%v%%: %d of %d successes logged, want %d..%d", tc.percent, got, n, tc.min, tc.max)
		}
		if errs != len(failed) {
			t.Errorf("%v%%: %d failures logged, want all %d", tc.percent, errs, len(failed))
		}
	}
}

// Lines reach the writer without Close, within the flush interval.
func TestPeriodicFlush(t *testing.T) {
	w := &syncWriter{}
	lg := New(w, Options{Format: JSON, SamplePercent: 100, FlushInterval: 5 * time.Millisecond})
	defer lg.Close()
	lg.Log(&records[0].rec)
	deadline := time.Now().Add(5 * time.Second)
	for w.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the line was never flushed")
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(w.String(), `"response_code":418`) {
		t.Errorf("flushed %q", w.String())
	}
}

// Concurrent writers never interleave inside a line, and Close flushes
// everything logged before it.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	lg := New(&buf, Options{Format: JSON, SamplePercent: 100, BufferSize: 512})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 200 {
				lg.Log(&records[g%len(records)].rec)
			}
		})
	}
	wg.Wait()
	_ = lg.Close()
	lg.Log(&records[0].rec) // after Close: dropped, no panic
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("broken line %q", l)
		}
	}
}

func TestLogAllocatesNothing(t *testing.T) {
	for _, f := range []Format{Text, JSON} {
		lg := New(io.Discard, Options{Format: f, SamplePercent: 100})
		rec := records[0].rec
		if n := testing.AllocsPerRun(1000, func() { lg.Log(&rec) }); n != 0 {
			t.Errorf("%s: %v allocations per record, want 0", f, n)
		}
		_ = lg.Close()
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": Text, "TEXT": Text, "json": JSON, "JSON": JSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("yaml: %v", err)
	}
}

func BenchmarkLog(b *testing.B) {
	for _, f := range []Format{Text, JSON} {
		b.Run(f.String(), func(b *testing.B) {
			lg := New(io.Discard, Options{Format: f, SamplePercent: 100})
			defer lg.Close()
			rec := records[0].rec
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					lg.Log(&rec)
				}
			})
		})
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
