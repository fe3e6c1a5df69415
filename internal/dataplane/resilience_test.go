package dataplane

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// The retry case: a backend killed in the middle of a load test
// (listener closed, every connection reset, in flight or idle) costs the
// clients nothing when retries are on. 10,000 requests from 32
// concurrent clients all succeed; no request sent after the kill is
// answered by the killed backend; the requests it received but could not
// answer, and every request still balanced to it, were retried on the
// others; and the live backends' own counts match the answers the
// clients got from them, so no request was lost or answered twice.
func TestBackendKilledUnderLoadWithRetries(t *testing.T) {
	const (
		total   = 10_000
		clients = 32
		killAt  = 3_000
	)
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	retry := &snapshot.RetryPolicy{
		Attempts: 2, RetryOn: []string{"connect-failure", "reset", "5xx"},
		IgnorePreviousHosts: true, BackoffBase: defaultBackoffBase,
	}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }),
		cluster("c", snapshot.LBLeastRequest, a.Addr(), b.Addr(), c.Addr())), Options{Sleep: (&sleeps{}).sleep})

	client := &http.Transport{MaxIdleConnsPerHost: clients}
	defer client.CloseIdleConnections()
	var (
		next, done  atomic.Int64
		killOnce    sync.Once
		killed      atomic.Bool
		killedCount atomic.Int64
		mu          sync.Mutex
		byName      = map[string]int64{}
		retriedBy   = map[string]int64{}
		failures    []string
	)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				afterKill := killed.Load()
				resp, body, err := sendTo(client, g.url, "GET", "/", nil, "")
				n := done.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != 200:
					failures = append(failures, fmt.Sprintf("%d %q", resp.StatusCode, body))
				default:
					name := resp.Header.Get(echo.NameHeader)
					byName[name]++
					if afterKill && name == "b" {
						failures = append(failures, "answered by b after the kill")
					}
					if !strings.Contains(body, "X-Envoy-Attempt-Count=1\n") {
						retriedBy[name]++
					}
				}
				mu.Unlock()
				if n == killAt {
					killOnce.Do(func() {
						b.Kill()
						killed.Store(true)
						killedCount.Store(b.Requests())
					})
				}
			}
		}()
	}
	wg.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, e.g. %v", len(failures), total, failures[:min(5, len(failures))])
	}
	if sum := byName["a"] + byName["b"] + byName["c"]; sum != total {
		t.Fatalf("answers by backend %v sum to %d, want %d", byName, sum, total)
	}
	// Requests b read just before the kill may be counted after it; they
	// are the ones it could not answer.
	if lost := b.Requests() - byName["b"]; lost < 0 || lost > clients {
		t.Errorf("b received %d requests and answered %d; want at most the %d in flight lost", b.Requests(), byName["b"], clients)
	}
	if a.Requests() != byName["a"] || c.Requests() != byName["c"] {
		t.Errorf("live backends counted a=%d c=%d, clients got a=%d c=%d; want equal",
			a.Requests(), c.Requests(), byName["a"], byName["c"])
	}
	if retriedBy["b"] != 0 || retriedBy["a"]+retriedBy["c"] == 0 {
		t.Errorf("retried requests answered by %v, want some, none by b", retriedBy)
	}
	t.Logf("answers %v; retried and answered by %v; b received %d requests (%d when killed)",
		byName, retriedBy, b.Requests(), killedCount.Load())
}
