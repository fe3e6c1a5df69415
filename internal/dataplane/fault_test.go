package dataplane

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// lockedRand is a seeded, goroutine-safe Rand.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed+1))}
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint64()
}

func faultRoute(f *snapshot.FaultPolicy) *snapshot.Route {
	return routeWith("c", func(r *snapshot.Route) { r.Fault = f })
}

// An injected delay waits (through the injectable sleep: no wall-clock
// time here) and then forwards; the access log says DI.
func TestFaultDelay(t *testing.T) {
	b := backend(t, "b")
	var sl sleeps
	g := startPolicyGateway(t, oneRouteSnapshot(faultRoute(&snapshot.FaultPolicy{
		Delay: &snapshot.FaultDelay{Duration: 5 * time.Second, Percent: 100},
	}), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{Sleep: sl.sleep})
	if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode != 200 || b.Requests() != 1 {
		t.Fatalf("got %d, backend saw %d; want 200 after forwarding once", resp.StatusCode, b.Requests())
	}
	if ds := sl.all(); len(ds) != 1 || ds[0] != 5*time.Second {
		t.Errorf("waited %v, want [5s]", ds)
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "DI" {
		t.Errorf("flags %v, want DI", l["response_flags"])
	}
}

// An HTTP abort answers with the status and Envoy's body without
// contacting the upstream; delay and abort apply together (DI,FI).
func TestFaultAbort(t *testing.T) {
	b := backend(t, "b")
	var sl sleeps
	g := startPolicyGateway(t, oneRouteSnapshot(faultRoute(&snapshot.FaultPolicy{
		Delay: &snapshot.FaultDelay{Duration: time.Second, Percent: 100},
		Abort: &snapshot.FaultAbort{HTTPStatus: 418, Percent: 100},
	}), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{Sleep: sl.sleep})
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != 418 || body != "fault filter abort" {
		t.Fatalf("got %d %q, want 418 fault filter abort", resp.StatusCode, body)
	}
	if b.Requests() != 0 {
		t.Errorf("backend saw %d requests, want none", b.Requests())
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "DI,FI" || l["response_code"] != float64(418) {
		t.Errorf("logged %v %v, want 418 DI,FI", l["response_code"], l["response_flags"])
	}
}

// A gRPC abort is a trailers-only gRPC answer: HTTP 200 with grpc-status
// and grpc-message in the headers.
func TestFaultAbortGRPC(t *testing.T) {
	b := backend(t, "b")
	g := startPolicyGateway(t, oneRouteSnapshot(faultRoute(&snapshot.FaultPolicy{
		Abort: &snapshot.FaultAbort{GRPCStatus: "UNAVAILABLE", Percent: 100},
	}), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
	resp, body := g.send(t, "POST", "/pkg.Svc/M", hdr("Content-Type", "application/grpc"), "x")
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "14" ||
		resp.Header.Get("Grpc-Message") != "fault filter abort" || resp.Header.Get("Content-Type") != "application/grpc" || body != "" {
		t.Fatalf("got %d %v %q, want 200 with grpc-status 14 and no body", resp.StatusCode, resp.Header, body)
	}
	if b.Requests() != 0 {
		t.Errorf("backend saw %d requests, want none", b.Requests())
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "FI" {
		t.Errorf("flags %v, want FI", l["response_flags"])
	}
}

// Faults apply to their percentage of requests (Istio: unset means 0%).
func TestFaultPercentage(t *testing.T) {
	b := backend(t, "b")
	g := startPolicyGateway(t, oneRouteSnapshot(faultRoute(&snapshot.FaultPolicy{
		Abort: &snapshot.FaultAbort{HTTPStatus: 503, Percent: 25},
		Delay: &snapshot.FaultDelay{Duration: time.Second},
	}), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{Rand: newLockedRand(7), Sleep: (&sleeps{}).sleep})
	const n = 800
	aborted := 0
	for range n {
		if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode == 503 {
			aborted++
		}
	}
	if share := float64(aborted) / n; math.Abs(share-0.25) > 0.05 {
		t.Errorf("aborted %.1f%%, want 25%%", 100*share)
	}
	if b.Requests() != int64(n-aborted) {
		t.Errorf("backend saw %d, want the %d not aborted", b.Requests(), n-aborted)
	}
	for _, l := range g.logs.waitLines(t, n) {
		if f := l["response_flags"]; f != "-" && f != "FI" {
			t.Fatalf("flags %v: a delay without percentage was injected", f)
		}
	}
}

func TestGRPCCodeNames(t *testing.T) {
	for in, want := range map[string]int{"UNAVAILABLE": 14, "unavailable": 14, "DEADLINE_EXCEEDED": 4, "7": 7, "bogus": 2} {
		if got := grpcCode(in); got != want {
			t.Errorf("grpcCode(%q) = %d, want %d", in, got, want)
		}
	}
}
