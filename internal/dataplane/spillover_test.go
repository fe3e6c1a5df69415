package dataplane

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// loadShare runs clients concurrent keep-alive clients, each sending
// perClient requests back to back, and returns the share answered by
// backends whose name starts with prefix.
func loadShare(t *testing.T, url string, clients, perClient int, prefix string) (float64, int) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	hits, total := 0, 0
	var failures []string
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range perClient {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Host = "example.com"
				resp, err := tr.RoundTrip(req)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode != http.StatusOK {
					failures = append(failures, resp.Status)
				}
				total++
				if strings.HasPrefix(resp.Header.Get(echo.NameHeader), prefix) {
					hits++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed, e.g. %s", len(failures), failures[0])
	}
	return float64(hits) / float64(total), total
}

// TestSpilloverGrowsWithLoad drives a two-priority cluster with backends
// that hold each request 20ms. With T = 2 in-flight requests per endpoint
// and two P0 endpoints, P0 saturates above 4 requests in flight: two
// clients never get there, 16 and 64 do, and more so.
func TestSpilloverGrowsWithLoad(t *testing.T) {
	var eps []snapshot.Endpoint
	for _, name := range []string{"p0-a", "p0-b", "p1-a", "p1-b"} {
		b := switchable(t, name)
		b.SetDelay(20 * time.Millisecond)
		e := ep(b.Addr(), 0)
		if strings.HasPrefix(name, "p1") {
			e.Priority = 1
		}
		e.Weight = 1
		eps = append(eps, e)
	}
	c := &snapshot.Cluster{
		Name: "c", LB: snapshot.LBPolicy{Kind: snapshot.LBLeastRequest}, UpstreamProtocol: snapshot.UpstreamHTTP1,
		Endpoints: eps,
		Spillover: &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: 2},
	}
	g := startGateway(t, oneRouteSnapshot(routeTo("c"), c))

	tests := []struct {
		clients, perClient int
		min, max           float64
	}{
		// At or below the threshold nothing may spill.
		{2, 40, 0, 0},
		{4, 30, 0, 0},
		// Above it P0 settles between 4 and 8 in flight, the rest spills.
		{16, 25, 0.2, 0.85},
		{64, 12, 0.6, 1},
	}
	prev := -1.0
	for _, tc := range tests {
		share, n := loadShare(t, g.url, tc.clients, tc.perClient, "p1-")
		st := g.cluster(t, "c").Spillover
		t.Logf("%2d clients: %4d requests, %5.1f%% spilled to P1 (cluster counters: %d of %d spilled in total)",
			tc.clients, n, 100*share, st.Spilled, st.Requests)
		if share < tc.min || share > tc.max {
			t.Errorf("%d clients: %.1f%% spilled, want %.0f%%..%.0f%%", tc.clients, 100*share, 100*tc.min, 100*tc.max)
		}
		if tc.min > 0 && share <= prev {
			t.Errorf("%d clients: spilled share %.1f%% did not grow from %.1f%%", tc.clients, 100*share, 100*prev)
		}
		prev = share
	}
	if st := g.cluster(t, "c").Spillover; st.Spilled == 0 || st.Priorities[0].SpillsTo != 1 {
		t.Errorf("spillover status = %+v, want spills counted from P0 to P1", st)
	}
}
