package dataplane

import (
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

func mirrorSnapshot(main string, mirrors map[string]string, percent float64) *snapshot.Snapshot {
	rt := routeWith("main", nil)
	clusters := []*snapshot.Cluster{cluster("main", snapshot.LBRoundRobin, main)}
	for name, addr := range mirrors {
		rt.Mirrors = append(rt.Mirrors, snapshot.Mirror{Cluster: name, Percent: percent})
		clusters = append(clusters, cluster(name, snapshot.LBRoundRobin, addr))
	}
	return oneRouteSnapshot(rt, clusters...)
}

// sendMany sends n GETs from `clients` concurrent clients and returns
// how many did not come back 200 from the main backend.
func sendMany(t *testing.T, g *policyGateway, n, clients int) int64 {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, _, err := sendTo(tr, g.url, "GET", "/", nil, "")
				if err != nil || resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "main" {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

// The mirror case: a mirror at 30% receives 30% ± 3 pp of 5,000
// requests, each with the "-shadow" host, while the client only ever
// sees the main backend.
func TestMirrorShare(t *testing.T) {
	main, shadow := backend(t, "main"), backend(t, "shadow")
	var hosts sync.Map
	shadow.Observe(func(r *http.Request) { hosts.Store(r.Host, true) })
	g := startPolicyGateway(t, mirrorSnapshot(main.Addr(), map[string]string{"m": shadow.Addr()}, 30), Options{})
	const n = 5000
	if failed := sendMany(t, g, n, 8); failed != 0 {
		t.Fatalf("%d requests failed", failed)
	}
	waitFor(t, "mirrors to finish", func() bool { return g.clusterStatus(t, "m").CircuitBreakers.Mirrors == 0 })
	share := float64(shadow.Requests()) / n
	if math.Abs(share-0.30) > 0.03 {
		t.Errorf("mirror received %.1f%% of %d requests, want 30 ± 3", 100*share, n)
	}
	if main.Requests() != n {
		t.Errorf("main received %d, want %d", main.Requests(), n)
	}
	var seen []string
	hosts.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	if len(seen) != 1 || seen[0] != "example.com-shadow" {
		t.Errorf("mirror saw hosts %v, want example.com-shadow", seen)
	}
	t.Logf("mirror share %.2f%% of %d", 100*share, n)
}

// A mirror that never answers, and one that is down, change nothing for
// the client: every request completes from the main backend while the
// held mirror has never let a single copy finish, and the held mirror
// gets at most MaxMirrorsInFlight copies at once, the rest dropped.
func TestSlowOrDeadMirrorChangesNothing(t *testing.T) {
	main, slow := backend(t, "main"), backend(t, "slow")
	slow.Hold()
	dead := closedAddr(t)
	g := startPolicyGateway(t, mirrorSnapshot(main.Addr(), map[string]string{"slow": slow.Addr(), "dead": dead}, 100),
		Options{MaxMirrorsInFlight: 8})
	const n = 500
	if failed := sendMany(t, g, n, 8); failed != 0 {
		t.Fatalf("%d of %d requests failed", failed, n)
	}
	if main.Requests() != n {
		t.Errorf("main received %d, want %d", main.Requests(), n)
	}
	if got := slow.MaxInFlight(); got > 8 {
		t.Errorf("held mirror has %d copies at once, want at most 8", got)
	}
	if got := slow.Requests(); got == 0 || got > 8 {
		t.Errorf("held mirror received %d copies, want 1..8 (the rest dropped)", got)
	}
	for _, l := range g.logs.waitLines(t, n) {
		if l["response_flags"] != "-" || l["upstream_cluster"] != "main" {
			t.Fatalf("access log shows the mirror: %v", l)
		}
	}
	slow.Release()
}

// A request body is mirrored once it has been read in full within the
// buffer; a larger body is not mirrored at all.
func TestMirrorCopiesBufferedBody(t *testing.T) {
	main, shadow := backend(t, "main"), backend(t, "shadow")
	bodies := make(chan string, 4)
	shadow.Observe(func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
	})
	g := startPolicyGateway(t, mirrorSnapshot(main.Addr(), map[string]string{"m": shadow.Addr()}, 100),
		Options{RetryBufferLimit: 1024})
	small := strings.Repeat("x", 1000)
	if resp, _ := g.send(t, "POST", "/", nil, small); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := <-bodies; got != small {
		t.Errorf("mirror got %d bytes, want the %d-byte body", len(got), len(small))
	}
	if resp, _ := g.send(t, "POST", "/", nil, strings.Repeat("y", 4096)); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitFor(t, "the bodiless copy", func() bool { return len(bodies) == 1 })
	if got := <-bodies; got != "" {
		t.Errorf("after the large body the mirror got %d bytes, want the bodiless GET's copy", len(got))
	}
	if shadow.Requests() != 2 {
		t.Errorf("mirror received %d copies, want 2 (the large body is not mirrored)", shadow.Requests())
	}
}

func TestShadowHost(t *testing.T) {
	for in, want := range map[string]string{
		"a.com":     "a.com-shadow",
		"a.com:80":  "a.com-shadow:80",
		"10.0.0.1":  "10.0.0.1-shadow",
		"[::1]:443": "[::1-shadow]:443",
	} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}
