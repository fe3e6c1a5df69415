package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/translate"
)

// site is a configuration directory with echo backends behind an HTTP
// gateway port, served by one or more gateways in turn.
type site struct {
	dir      string
	port     int
	status   string
	url      string
	backends []*echo.Server
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{dir: t.TempDir(), port: freePort(t)}
	s.status = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, name := range []string{"v1-a", "v2-a"} {
		b, err := echo.Start(name, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		s.backends = append(s.backends, b)
	}
	writeFile(t, filepath.Join(s.dir, "gateway.yaml"), canaryGateway)
	writeFile(t, filepath.Join(s.dir, "vs.yaml"), fmt.Sprintf(canaryVS, 50, 50))
	writeFile(t, filepath.Join(s.dir, "backends.yaml"), backendsYAML(s.port, s.backends))
	s.url = fmt.Sprintf("http://127.0.0.1:%d/", s.port)
	return s
}

// start runs a gateway on the site and waits until it is ready. The
// returned stop cancels it and waits for its goroutines.
func (s *site) start(t *testing.T, topo Topology) (*Gateway, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths:     []string{s.dir},
		Identity:        translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}, Namespace: "istio-system"},
		StatusAddr:      s.status,
		AdminAddr:       "127.0.0.1:0",
		ShutdownTimeout: 5 * time.Second,
		Topology:        topo,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); gw.Shutdown(); gw.Wait() }) }
	t.Cleanup(stop)
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; status %+v", err, gw.Status())
	}
	return gw, stop
}

// readiness fetches /healthz/ready on a new connection, as probes do.
func readiness(addr string) (int, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz/ready")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestReadinessMoments: not ready before the first configuration serves,
// LIVE with details once it does, DRAINING (503) from the moment shutdown
// begins while listeners still accept, and nothing once stopped.
func TestReadinessMoments(t *testing.T) {
	s := newSite(t)
	// Nothing configured yet: the status port answers, not ready.
	writeFile(t, filepath.Join(s.dir, "gateway.yaml"), "")
	writeFile(t, filepath.Join(s.dir, "vs.yaml"), "")
	writeFile(t, filepath.Join(s.dir, "backends.yaml"), "wrong: [")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{s.dir}, StatusAddr: s.status, ShutdownTimeout: 5 * time.Second,
		Identity: translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}},
		Topology: Topology{DrainDelay: 700 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); gw.Shutdown(); gw.Wait() }()
	waitFor(t, func() bool { return gw.Status().Rejected }, "the broken configuration to be reported")
	if code, body := readiness(s.status); code != 503 || !strings.HasPrefix(body, "PRE_INITIALIZING\n") ||
		!strings.Contains(body, "configuration rejected") {
		t.Fatalf("before any configuration: %d %q", code, body)
	}

	writeFile(t, filepath.Join(s.dir, "gateway.yaml"), canaryGateway)
	writeFile(t, filepath.Join(s.dir, "vs.yaml"), fmt.Sprintf(canaryVS, 50, 50))
	writeFile(t, filepath.Join(s.dir, "backends.yaml"), backendsYAML(s.port, s.backends))
	waitFor(t, gw.Ready, "the gateway to be ready")
	code, body := readiness(s.status)
	listenerLine := fmt.Sprintf("listener :%d (http) bound to [::]:%d", s.port, s.port)
	if code != 200 || !strings.HasPrefix(body, "LIVE\n") || !strings.Contains(body, "configuration version 1") ||
		!strings.Contains(body, listenerLine) {
		t.Fatalf("ready: %d %q, want LIVE with the version and %q", code, body, listenerLine)
	}

	// A keep-alive connection made before shutdown.
	keep := newClient()
	if resp, err := keep.Get(s.url); err != nil {
		t.Fatal(err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	done := make(chan struct{})
	began := time.Now()
	go func() { gw.Shutdown(); close(done) }()
	waitFor(t, func() bool { return gw.ReadinessState() == "DRAINING" }, "shutdown to begin")
	code, body = readiness(s.status)
	if code != 503 || !strings.HasPrefix(body, "DRAINING\n") || !strings.Contains(body, "draining for") {
		t.Fatalf("at shutdown: %d %q, want 503 DRAINING", code, body)
	}
	if d := time.Since(began); d > 200*time.Millisecond {
		t.Errorf("readiness failed %v after shutdown began", d)
	}
	// During the drain delay the listener still accepts; every response
	// tells the client to close, on new and reused connections alike.
	for i, c := range []*http.Client{newClient(), keep} {
		resp, err := c.Get(s.url)
		if err != nil {
			t.Fatalf("client %d during the drain delay: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("client %d during the drain: status %d, Connection: close %v", i, resp.StatusCode, resp.Close)
		}
	}
	<-done
	if d := time.Since(began); d < 700*time.Millisecond {
		t.Errorf("stopped after %v, before the 700ms drain delay", d)
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second); err == nil {
		t.Error("the listener still accepts after shutdown")
	}
}

// TestInFlightRequestsFinish: a request in flight when shutdown begins
// completes, and in until-idle mode the gateway leaves as soon as the
// last connection closes, not at the deadline.
func TestInFlightRequestsFinish(t *testing.T) {
	for _, untilIdle := range []bool{false, true} {
		t.Run(fmt.Sprintf("untilIdle=%v", untilIdle), func(t *testing.T) {
			s := newSite(t)
			gw, _ := s.start(t, Topology{DrainDelay: 100 * time.Millisecond, DrainUntilIdle: untilIdle, DrainPollInterval: 20 * time.Millisecond})
			for _, b := range s.backends {
				b.SetDelay(800 * time.Millisecond)
			}
			result := make(chan error, 1)
			go func() {
				resp, err := newClient().Get(s.url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				result <- err
			}()
			waitFor(t, func() bool { return gw.listeners.ActiveConnections() == 1 }, "the request to be in flight")
			began := time.Now()
			gw.Shutdown()
			took := time.Since(began)
			if err := <-result; err != nil {
				t.Fatalf("the in-flight request failed: %v", err)
			}
			if took < 500*time.Millisecond || took > 3*time.Second {
				t.Errorf("shutdown took %v, want about the 800ms the request needed", took)
			}
		})
	}
}

// TestUntilIdleCountsConnections: in until-idle mode (Istio's
// EXIT_ON_ZERO_ACTIVE_CONNECTIONS) every accepted connection counts, even
// one that has sent nothing yet, and the gateway leaves when the count
// reaches zero.
func TestUntilIdleCountsConnections(t *testing.T) {
	s := newSite(t)
	gw, _ := s.start(t, Topology{DrainUntilIdle: true, DrainPollInterval: 20 * time.Millisecond})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return gw.listeners.ActiveConnections() == 1 }, "the connection to count")
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.Close()
	}()
	began := time.Now()
	gw.Shutdown()
	if took := time.Since(began); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("shutdown took %v, want until the connection closed (300ms)", took)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loadBalancer is 50 clients sending continuously, each on its own
// keep-alive connection, as a load balancer does. Like one, it stops
// sending to a gateway whose readiness fails (polling every 50ms), and
// counts every failed request.
type loadBalancer struct {
	ok, failed, closed atomic.Int64
	mu                 sync.Mutex
	errors             []string
	stop               atomic.Bool
	healthy            atomic.Bool
	wg                 sync.WaitGroup
}

func startLoad(url, status string, clients int, healthChecks bool) *loadBalancer {
	lb := &loadBalancer{}
	lb.healthy.Store(true)
	if healthChecks {
		lb.wg.Go(func() {
			for !lb.stop.Load() {
				code, _ := readiness(status)
				lb.healthy.Store(code == 200)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	for range clients {
		lb.wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			for !lb.stop.Load() {
				if !lb.healthy.Load() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				resp, err := c.Get(url)
				if err != nil {
					lb.fail(err.Error())
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					lb.fail(err.Error())
				case resp.StatusCode != 200:
					lb.fail(fmt.Sprintf("status %d", resp.StatusCode))
				default:
					lb.ok.Add(1)
					if resp.Close {
						lb.closed.Add(1)
					}
				}
			}
		})
	}
	return lb
}

func (lb *loadBalancer) fail(msg string) {
	lb.failed.Add(1)
	lb.mu.Lock()
	if len(lb.errors) < 10 {
		lb.errors = append(lb.errors, msg)
	}
	lb.mu.Unlock()
}

func (lb *loadBalancer) finish() {
	lb.stop.Store(true)
	lb.wg.Wait()
}
