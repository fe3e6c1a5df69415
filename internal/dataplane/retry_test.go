package dataplane

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

func retryPolicy5xx(attempts uint32, on ...string) *snapshot.RetryPolicy {
	return &snapshot.RetryPolicy{Attempts: attempts, RetryOn: on, IgnorePreviousHosts: true, BackoffBase: 25 * time.Millisecond}
}

// Retried requests go to another endpoint: with one endpoint answering
// 503 and retryOn 5xx, every client request succeeds, the failing
// endpoint sees exactly the first attempts that landed on it, and each
// of those was answered by the healthy one on attempt 2.
func TestRetry5xxGoesToAnotherEndpoint(t *testing.T) {
	bad, good := backend(t, "bad"), backend(t, "good")
	bad.SetStatus(503)
	var sl sleeps
	g := startPolicyGateway(t, oneRouteSnapshot(
		routeWith("c", func(r *snapshot.Route) { r.Retry = retryPolicy5xx(2, "5xx") }),
		cluster("c", snapshot.LBRoundRobin, bad.Addr(), good.Addr())), Options{Sleep: sl.sleep})
	const n = 20
	retried := 0
	for i := range n {
		resp, body := g.send(t, "GET", "/", nil, "")
		if resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "good" {
			t.Fatalf("request %d: %d from %q, want 200 from good", i, resp.StatusCode, resp.Header.Get(echo.NameHeader))
		}
		if strings.Contains(body, "header X-Envoy-Attempt-Count=2\n") {
			retried++
		} else if !strings.Contains(body, "header X-Envoy-Attempt-Count=1\n") {
			t.Fatalf("upstream saw no attempt count:\n%s", body)
		}
	}
	if got := bad.Requests(); got != int64(retried) || got == 0 {
		t.Errorf("bad saw %d requests, %d were retried; want equal and non-zero", got, retried)
	}
	if got := good.Requests(); got != n {
		t.Errorf("good saw %d requests, want %d", got, n)
	}
	if got := len(sl.all()); got != retried {
		t.Errorf("%d backoff waits, want one per retry (%d)", got, retried)
	}
	attempts := map[float64]int{}
	for _, l := range g.logs.waitLines(t, n) {
		attempts[l["upstream_request_attempt_count"].(float64)]++
		if l["response_flags"] != "-" {
			t.Errorf("flags %v on a request that succeeded", l["response_flags"])
		}
	}
	if attempts[2] != retried || attempts[1] != n-retried {
		t.Errorf("access-log attempt counts %v, want %d×2 and %d×1", attempts, retried, n-retried)
	}
}

// When every attempt fails in a retriable way the last upstream response
// reaches the client, and the access log says URX with the attempt count.
func TestRetriesExhaustedRelayLastResponse(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	a.SetStatus(503)
	b.SetStatus(503)
	var sl sleeps
	g := startPolicyGateway(t, oneRouteSnapshot(
		routeWith("c", func(r *snapshot.Route) { r.Retry = retryPolicy5xx(2, "5xx") }),
		cluster("c", snapshot.LBRoundRobin, a.Addr(), b.Addr())), Options{Sleep: sl.sleep})
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != 503 || !strings.Contains(body, "status=503") {
		t.Fatalf("got %d %q, want the upstream's 503", resp.StatusCode, body)
	}
	if got := a.Requests() + b.Requests(); got != 3 {
		t.Errorf("backends saw %d requests, want 1 + 2 retries", got)
	}
	l := g.lastLog(t, 1)
	if l["response_flags"] != "URX" || l["upstream_request_attempt_count"] != float64(3) {
		t.Errorf("flags %v, attempts %v; want URX after 3", l["response_flags"], l["upstream_request_attempt_count"])
	}
	// Backoff: retry n waits U[0, (2^n−1)·25ms).
	ds := sl.all()
	if len(ds) != 2 || ds[0] >= 25*time.Millisecond || ds[1] >= 75*time.Millisecond {
		t.Errorf("backoff waits %v, want [<25ms <75ms]", ds)
	}
}

// flakyServer fails its first request with fail, then answers 200.
type flakyServer struct {
	url  string
	n    atomic.Int64
	fail func(w http.ResponseWriter)
}

func startFlaky(t *testing.T, fail func(w http.ResponseWriter)) *flakyServer {
	f := &flakyServer{fail: fail}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.n.Add(1) == 1 {
			f.fail(w)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(ts.Close)
	f.url = strings.TrimPrefix(ts.URL, "http://")
	return f
}

func status(code int, kv ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(code)
	}
}

// Each retryOn condition retries what Envoy documents for it, and
// nothing else.
func TestRetryOnConditions(t *testing.T) {
	grpcTrailer := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		w.WriteHeader(200)
		w.Header().Set("Grpc-Status", "14")
	}
	tests := []struct {
		name    string
		retryOn []string
		codes   []uint32
		fail    func(http.ResponseWriter)
		retried bool
	}{
		{"5xx retries 500", []string{"5xx"}, nil, status(500), true},
		{"5xx leaves 404", []string{"5xx"}, nil, status(404), false},
		{"gateway-error retries 502", []string{"gateway-error"}, nil, status(502), true},
		{"gateway-error retries 504", []string{"gateway-error"}, nil, status(504), true},
		{"gateway-error leaves 500", []string{"gateway-error"}, nil, status(500), false},
		{"retriable-4xx retries 409", []string{"retriable-4xx"}, nil, status(409), true},
		{"retriable-4xx leaves 404", []string{"retriable-4xx"}, nil, status(404), false},
		{"retriable-status-codes", []string{"retriable-status-codes"}, []uint32{418}, status(418), true},
		{"retriable-status-codes without the code", []string{"retriable-status-codes"}, nil, status(418), false},
		{"numeric token", []string{"418"}, nil, status(418), true},
		{"envoy-ratelimited", []string{"envoy-ratelimited"}, nil, status(429, "X-Envoy-Ratelimited", "true"), true},
		{"rate limited only under envoy-ratelimited", []string{"5xx"}, nil, status(503, "X-Envoy-Ratelimited", "true"), false},
		{"unavailable in headers", []string{"unavailable"}, nil, status(200, "Content-Type", "application/grpc", "Grpc-Status", "14"), true},
		{"cancelled in headers", []string{"cancelled"}, nil, status(200, "Content-Type", "application/grpc", "Grpc-Status", "1"), true},
		{"deadline-exceeded in headers", []string{"deadline-exceeded"}, nil, status(200, "Grpc-Status", "4"), true},
		{"resource-exhausted in headers", []string{"resource-exhausted"}, nil, status(200, "Grpc-Status", "8"), true},
		{"internal in headers", []string{"internal"}, nil, status(200, "Grpc-Status", "13"), true},
		{"other gRPC code", []string{"unavailable"}, nil, status(200, "Grpc-Status", "13"), false},
		{"gRPC status in trailers is not seen", []string{"unavailable"}, nil, grpcTrailer, false},
		{"retriable-headers has nothing to match", []string{"retriable-headers"}, nil, status(503), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFlaky(t, tc.fail)
			var sl sleeps
			g := startPolicyGateway(t, oneRouteSnapshot(
				routeWith("c", func(r *snapshot.Route) {
					r.Retry = retryPolicy5xx(1, tc.retryOn...)
					r.Retry.RetriableStatusCodes = tc.codes
				}),
				cluster("c", snapshot.LBRoundRobin, f.url)), Options{Sleep: sl.sleep})
			resp, body := g.send(t, "GET", "/", nil, "")
			if got := f.n.Load() == 2; got != tc.retried {
				t.Fatalf("backend saw %d requests; retried = %v, want %v", f.n.Load(), got, tc.retried)
			}
			if tc.retried && (resp.StatusCode != 200 || body != "ok") {
				t.Errorf("after the retry got %d %q, want 200 ok", resp.StatusCode, body)
			}
		})
	}
}

// A route without a retry policy (attempts: 0) sends one attempt.
func TestNoRetryPolicyNoRetry(t *testing.T) {
	f := startFlaky(t, status(503))
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil),
		cluster("c", snapshot.LBRoundRobin, f.url)), Options{})
	if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode != 503 || f.n.Load() != 1 {
		t.Fatalf("got %d after %d attempts, want the 503 after one", resp.StatusCode, f.n.Load())
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "-" {
		t.Errorf("flags %v, want none", l["response_flags"])
	}
}

// perTryTimeout bounds each attempt until headers; a timed-out attempt
// is retried on another endpoint under gateway-error, and when the
// retries run out the client gets Envoy's 504.
func TestPerTryTimeout(t *testing.T) {
	slow, fast := backend(t, "slow"), backend(t, "fast")
	slow.Hold()
	retry := retryPolicy5xx(1, "gateway-error")
	retry.PerTryTimeout = 50 * time.Millisecond
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }),
		cluster("c", snapshot.LBRoundRobin, slow.Addr(), fast.Addr())), Options{Sleep: (&sleeps{}).sleep})
	for i := range 4 {
		resp, _ := g.send(t, "GET", "/", nil, "")
		if resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "fast" {
			t.Fatalf("request %d: %d from %q, want 200 from fast", i, resp.StatusCode, resp.Header.Get(echo.NameHeader))
		}
	}
	twice := 0
	for _, l := range g.logs.waitLines(t, 4) {
		if l["upstream_request_attempt_count"] == float64(2) {
			twice++
		}
	}
	if got := slow.Requests(); got == 0 || got != int64(twice) {
		t.Errorf("slow saw %d requests, %d requests took two attempts; want equal and non-zero", got, twice)
	}

	t.Run("all attempts time out", func(t *testing.T) {
		fast.Hold()
		defer fast.Release()
		resp, body := g.send(t, "GET", "/", nil, "")
		if resp.StatusCode != 504 || body != "upstream request timeout" {
			t.Fatalf("got %d %q, want 504 upstream request timeout", resp.StatusCode, body)
		}
		l := g.lastLog(t, 5)
		if l["response_flags"] != "UT,URX" || l["upstream_request_attempt_count"] != float64(2) {
			t.Errorf("flags %v after %v attempts, want UT,URX after 2", l["response_flags"], l["upstream_request_attempt_count"])
		}
	})
}

// The route timeout covers all attempts, and the 504 it causes is never
// retried, whatever retryOn says.
func TestRouteTimeoutIsNotRetried(t *testing.T) {
	b := backend(t, "b")
	b.Hold()
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) {
		r.Timeout = 100 * time.Millisecond
		r.Retry = retryPolicy5xx(3, "5xx", "gateway-error", "reset")
	}), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{Sleep: (&sleeps{}).sleep})
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != 504 || body != "upstream request timeout" {
		t.Fatalf("got %d %q, want 504 upstream request timeout", resp.StatusCode, body)
	}
	if got := b.Requests(); got != 1 {
		t.Errorf("backend saw %d requests, want 1", got)
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "UT" || l["upstream_request_attempt_count"] != float64(1) {
		t.Errorf("flags %v after %v attempts, want UT after 1", l["response_flags"], l["upstream_request_attempt_count"])
	}
}

// A gRPC request's grpc-timeout is its deadline, capped by the route
// timeout; a gRPC client gets the timeout as a trailers-only status:
// DEADLINE_EXCEEDED when the deadline was the client's own (its timer and
// the gateway's fire together), UNAVAILABLE, as Envoy answers, when the
// route timeout cut the request.
func TestGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		routeLimit time.Duration
		header     http.Header
		wantStatus string
	}{
		{"client deadline", 0, hdr("Content-Type", "application/grpc", "Grpc-Timeout", "50m"), "4"},
		{"route timeout", 50 * time.Millisecond, hdr("Content-Type", "application/grpc"), "14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := backend(t, "b")
			b.Hold()
			g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Timeout = tc.routeLimit }),
				cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
			resp, body := g.send(t, "POST", "/pkg.Svc/Method", tc.header, "x")
			if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != tc.wantStatus ||
				resp.Header.Get("Grpc-Message") != "upstream request timeout" || body != "" {
				t.Fatalf("got %d grpc-status %q message %q body %q; want 200, %s, upstream request timeout, trailers-only",
					resp.StatusCode, resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message"), body, tc.wantStatus)
			}
			if l := g.lastLog(t, 1); l["response_flags"] != "UT" {
				t.Errorf("flags %v, want UT", l["response_flags"])
			}
		})
	}
}

func TestGRPCTimeoutFromHeader(t *testing.T) {
	route := &snapshot.Route{Timeout: time.Second}
	for _, tc := range []struct {
		grpc      bool
		header    string
		routeless bool
		want      time.Duration
	}{
		{true, "100m", false, 100 * time.Millisecond},
		{true, "5S", false, time.Second}, // capped by the route timeout
		{true, "0n", false, time.Second}, // 0 is no deadline: the route's
		{true, "5S", true, 5 * time.Second},
		{true, "bogus", false, time.Second},
		{false, "100m", false, time.Second}, // only gRPC requests
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Grpc-Timeout", tc.header)
		rt := route
		if tc.routeless {
			rt = &snapshot.Route{}
		}
		if got := requestTimeout(rt, r, tc.grpc); got != tc.want {
			t.Errorf("grpc=%v grpc-timeout %s route %v: %v, want %v", tc.grpc, tc.header, rt.Timeout, got, tc.want)
		}
	}
}

// fixedRand always draws v.
type fixedRand uint64

func (r fixedRand) IntN(n int) int { return int(uint64(r) % uint64(n)) }
func (r fixedRand) Uint64() uint64 { return uint64(r) }

// Backoff is fully jittered: retry n waits U[0, (2^n−1)·base), capped at
// 10×base (Envoy's documented values: 25ms base, 250ms cap).
func TestBackoffFullJitter(t *testing.T) {
	base := 25 * time.Millisecond
	for n, ceil := range map[int]time.Duration{1: 25 * time.Millisecond, 2: 75 * time.Millisecond, 3: 175 * time.Millisecond} {
		if d := backoff(n, base, fixedRand(ceil-1)); d != ceil-1 {
			t.Errorf("retry %d at the top of its range waits %v, want %v", n, d, ceil-1)
		}
		if d := backoff(n, base, fixedRand(ceil)); d != 0 {
			t.Errorf("retry %d drawing its ceiling waits %v, want 0 (the range is open)", n, d)
		}
	}
	for _, n := range []int{4, 10, 64} {
		if d := backoff(n, base, fixedRand(300*time.Millisecond)); d != 250*time.Millisecond {
			t.Errorf("retry %d waits %v, want the 250ms cap", n, d)
		}
	}
	if d := backoff(1, 0, fixedRand(25*time.Millisecond)); d != 0 {
		t.Errorf("no base: %v, want Envoy's 25ms default base", d)
	}
}

// Without retryRemoteLocalities retries stay in the priority of the
// first attempt; with it they go to the next priority.
func TestRetryRemoteLocalities(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "remote"}[remote], func(t *testing.T) {
			near, far := backend(t, "near"), backend(t, "far")
			near.SetStatus(503)
			c := cluster("c", snapshot.LBRoundRobin)
			c.Endpoints = []snapshot.Endpoint{
				{Address: near.Addr(), Weight: 1, Priority: 0, Locality: snapshot.Locality{Zone: "a"}},
				{Address: far.Addr(), Weight: 1, Priority: 1, Locality: snapshot.Locality{Zone: "b"}},
			}
			retry := retryPolicy5xx(2, "5xx")
			retry.RetryRemoteLocalities = remote
			g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }), c),
				Options{Sleep: (&sleeps{}).sleep})
			resp, _ := g.send(t, "GET", "/", nil, "")
			if remote {
				if resp.StatusCode != 200 || near.Requests() != 1 || far.Requests() != 1 {
					t.Fatalf("got %d; near %d far %d; want 200 after one try on each", resp.StatusCode, near.Requests(), far.Requests())
				}
				return
			}
			if resp.StatusCode != 503 || near.Requests() != 3 || far.Requests() != 0 {
				t.Fatalf("got %d; near %d far %d; want 503 after three tries on near", resp.StatusCode, near.Requests(), far.Requests())
			}
		})
	}
}

// A request body within the buffer limit is replayed on the retry; a
// larger one streams once and is not retried.
func TestRetryReplaysBufferedBody(t *testing.T) {
	near, far := backend(t, "near"), backend(t, "far")
	near.SetStatus(503)
	var got atomic.Value
	far.Observe(func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	})
	near.Observe(func(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	c := cluster("c", snapshot.LBRoundRobin)
	c.Endpoints = []snapshot.Endpoint{
		{Address: near.Addr(), Weight: 1, Priority: 0},
		{Address: far.Addr(), Weight: 1, Priority: 1},
	}
	retry := retryPolicy5xx(1, "5xx")
	retry.RetryRemoteLocalities = true
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }), c),
		Options{Sleep: (&sleeps{}).sleep, RetryBufferLimit: 1024})

	small := strings.Repeat("s", 1000)
	if resp, _ := g.send(t, "POST", "/", nil, small); resp.StatusCode != 200 || got.Load() != small {
		t.Fatalf("small body: %d, far got %d bytes; want 200 and the whole body replayed", resp.StatusCode, len(got.Load().(string)))
	}
	large := strings.Repeat("l", 4096)
	if resp, _ := g.send(t, "POST", "/", nil, large); resp.StatusCode != 503 {
		t.Fatalf("large body: %d, want the first attempt's 503", resp.StatusCode)
	}
	if near.Requests() != 2 || far.Requests() != 1 {
		t.Errorf("near %d far %d, want 2 and 1", near.Requests(), far.Requests())
	}
}

// Retries work the same over HTTP/2 to the upstream.
func TestRetryOverH2C(t *testing.T) {
	bad, good := backend(t, "bad"), backend(t, "good")
	bad.SetStatus(503)
	c := cluster("c", snapshot.LBRoundRobin)
	c.UpstreamProtocol = snapshot.UpstreamH2C
	c.Endpoints = []snapshot.Endpoint{{Address: bad.Addr(), Weight: 1}, {Address: good.Addr(), Weight: 1, Priority: 1}}
	retry := retryPolicy5xx(1, "5xx")
	retry.RetryRemoteLocalities = true
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }), c),
		Options{Sleep: (&sleeps{}).sleep})
	resp, body := g.send(t, "POST", "/", nil, "payload")
	if resp.StatusCode != 200 || !strings.Contains(body, "proto=HTTP/2.0\n") || !strings.Contains(body, "X-Envoy-Attempt-Count=2\n") {
		t.Fatalf("got %d:\n%s\nwant 200 over HTTP/2 on attempt 2", resp.StatusCode, body)
	}
	if bad.Requests() != 1 || good.Requests() != 1 {
		t.Errorf("bad %d good %d, want 1 and 1", bad.Requests(), good.Requests())
	}
}

// Failures without a response: what each retryOn condition covers, as
// Envoy documents it. A route timeout, an overflow and a client that
// went away are never retried.
func TestRetriesFailure(t *testing.T) {
	kinds := []failureKind{connectFailure, refusedStream, reset, perTryTimeout, routeTimeout, overflow, downstreamGone}
	tests := []struct {
		on   string
		want []failureKind
	}{
		{"5xx", []failureKind{connectFailure, refusedStream, reset, perTryTimeout}},
		{"gateway-error", []failureKind{connectFailure, refusedStream, reset, perTryTimeout}},
		{"reset", []failureKind{connectFailure, refusedStream, reset, perTryTimeout}},
		{"connect-failure", []failureKind{connectFailure}},
		{"refused-stream", []failureKind{refusedStream}},
		{"reset-before-request", []failureKind{connectFailure, refusedStream}},
		{"unavailable", nil},
		{"retriable-4xx", nil},
	}
	for _, tc := range tests {
		p := newRetryPolicy(&snapshot.RetryPolicy{Attempts: 1, RetryOn: []string{tc.on}})
		for _, k := range kinds {
			want := false
			for _, w := range tc.want {
				want = want || w == k
			}
			if got := p.retriesFailure(k); got != want {
				t.Errorf("retryOn %s, failure %d: retried %v, want %v", tc.on, k, got, want)
			}
		}
	}
}

// A route timeout that runs out while the response streams cuts the
// response off (the client sees it truncated) and is logged as UT.
func TestRouteTimeoutMidResponse(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(ts.Close)
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Timeout = 100 * time.Millisecond }),
		cluster("c", snapshot.LBRoundRobin, strings.TrimPrefix(ts.URL, "http://"))), Options{})
	req, _ := http.NewRequest("GET", g.url+"/", nil)
	req.Host = "example.com"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "partial" || err == nil {
		t.Fatalf("got %d %q (%v), want the 200's first bytes and then an error", resp.StatusCode, body, err)
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "UT" || l["response_code"] != float64(200) {
		t.Errorf("logged %v %v, want 200 UT", l["response_code"], l["response_flags"])
	}
}
