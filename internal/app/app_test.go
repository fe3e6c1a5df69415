package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/testport"
	"github.com/meshgate/meshgate/internal/translate"
)

// canary is the scenario, unchanged, with a VirtualService whose
// weights the tests vary.
const canaryGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: echo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo-dr, namespace: default}
spec:
  host: "*"
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`

const canaryVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echoserver-vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [echo-gateway]
  http:
  - match: [{uri: {prefix: /}}]
    route:
    - destination: {host: echoserver-service, subset: v1, port: {number: 80}}
      weight: %d
    - destination: {host: echoserver-service, subset: v2, port: {number: 80}}
      weight: %d
`

// backendsYAML declares the gateway's own Service (80 → the free port the
// test listens on) and the echo backends as WorkloadEntries.
func backendsYAML(gatewayPort int, backends []*echo.Server) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: %d}
---
apiVersion: v1
kind: Service
metadata: {name: echoserver-service, namespace: default}
spec:
  selector: {app: echoserver}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`, gatewayPort)
	for _, s := range backends {
		_, port, _ := net.SplitHostPort(s.Addr())
		version := s.Name[:2]
		fmt.Fprintf(&b, `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-%s, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: %s}
  labels: {app: echoserver, version: %s}
`, s.Name, port, version)
	}
	return b.String()
}

type fixture struct {
	dir      string
	url      string
	gateway  *Gateway
	backends []*echo.Server
}

func startFixture(t *testing.T, w1, w2 int) *fixture {
	t.Helper()
	return startFixtureWith(t, w1, w2, nil)
}

// startFixtureWith is startFixture with options adjusted by edit.
func startFixtureWith(t *testing.T, w1, w2 int, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	for _, name := range []string{"v1-a", "v1-b", "v2-a", "v2-b"} {
		s, err := echo.Start(name, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f.backends = append(f.backends, s)
	}
	port := freePort(t)
	writeFile(t, filepath.Join(f.dir, "gateway.yaml"), canaryGateway)
	writeFile(t, filepath.Join(f.dir, "vs.yaml"), fmt.Sprintf(canaryVS, w1, w2))
	writeFile(t, filepath.Join(f.dir, "backends.yaml"), backendsYAML(port, f.backends))

	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{
		ConfigPaths: []string{f.dir},
		Identity:    translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}, Namespace: "istio-system"},
		AdminAddr:   "127.0.0.1:0",
		StatusAddr:  "127.0.0.1:0",
	}
	if edit != nil {
		edit(&opts)
	}
	gw, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Shutdown(); gw.Wait() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; diagnostics: %v; publish error: %s", err, gw.Diagnostics(), gw.Status().PublishError)
	}
	f.gateway = gw
	f.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	return f
}

func freePort(t *testing.T) int { return testport.Free(t) }

// writeFile replaces path atomically, as editors and ConfigMap updates do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tally counts which backend answered, concurrently.
type tally struct {
	mu       sync.Mutex
	byName   map[string]int
	failures []string
}

func newTally() *tally { return &tally{byName: map[string]int{}} }

func (c *tally) get(client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		c.fail(err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.fail(fmt.Sprintf("status %d: %.80s", resp.StatusCode, body))
		return
	}
	c.mu.Lock()
	c.byName[resp.Header.Get(echo.NameHeader)]++
	c.mu.Unlock()
}

func (c *tally) fail(msg string) {
	c.mu.Lock()
	if len(c.failures) < 10 {
		c.failures = append(c.failures, msg)
	} else {
		c.failures[9] = "... " + msg
	}
	c.byName["<failed>"]++
	c.mu.Unlock()
}

func (c *tally) share(prefix string) (float64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, total := 0, 0
	for name, k := range c.byName {
		total += k
		if strings.HasPrefix(name, prefix) {
			n += k
		}
	}
	if total == 0 {
		return 0, 0
	}
	return float64(n) / float64(total), total
}

// newClient returns a keep-alive client with its own connection pool. The
// shared http.DefaultTransport keeps only two idle connections per host,
// so concurrent test clients would open (and leave in TIME_WAIT) a new
// connection for almost every request and exhaust ephemeral ports.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 8},
		Timeout:   10 * time.Second,
	}
}

// send issues n requests from `workers` keep-alive clients.
func send(url string, n, workers int, c *tally) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			client := newClient()
			for next.Add(1) <= int64(n) {
				c.get(client, url)
			}
		})
	}
	wg.Wait()
}

func TestCanarySplitThroughRealListener(t *testing.T) {
	f := startFixture(t, 20, 80)
	c := newTally()
	send(f.url, 10000, 8, c)
	if len(c.failures) > 0 {
		t.Fatalf("%d failed requests, e.g. %v", c.byName["<failed>"], c.failures)
	}
	v1, total := c.share("v1-")
	t.Logf("10,000 requests: %v", c.byName)
	if total != 10000 {
		t.Fatalf("counted %d answers, want 10000", total)
	}
	// Binomial σ at p=0.2, n=10,000 is 0.4 pp; 1.5 pp is > 3.5σ.
	if v1 < 0.185 || v1 > 0.215 {
		t.Errorf("v1 share = %.2f%%, want 20%% ± 1.5 pp", 100*v1)
	}
	// LEAST_REQUEST (Istio's default) over two equal endpoints spreads a
	// subset's requests evenly.
	for _, pair := range [][2]string{{"v1-a", "v1-b"}, {"v2-a", "v2-b"}} {
		a, b := c.byName[pair[0]], c.byName[pair[1]]
		share := float64(a) / float64(a+b)
		if share < 0.45 || share > 0.55 {
			t.Errorf("%s:%s = %d:%d, want an even split within ±5 pp", pair[0], pair[1], a, b)
		}
	}
}

func TestReloadUnderLoadLosesNothing(t *testing.T) {
	f := startFixture(t, 20, 80)
	before := f.gateway.Snapshot().Version

	var stop atomic.Bool
	var wg sync.WaitGroup
	load := newTally()
	for range 16 {
		wg.Go(func() {
			client := newClient()
			for !stop.Load() {
				load.get(client, f.url)
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // let the load reach steady state

	changed := time.Now()
	writeFile(t, filepath.Join(f.dir, "vs.yaml"), fmt.Sprintf(canaryVS, 50, 50))
	deadline := time.Now().Add(2 * time.Second)
	for f.gateway.Snapshot().Version == before {
		if time.Now().After(deadline) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("new configuration not applied within 2s; status %+v", f.gateway.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("new configuration live %v after the file changed", time.Since(changed).Round(time.Millisecond))

	after := newTally()
	send(f.url, 4000, 8, after)
	stop.Store(true)
	wg.Wait()

	if len(load.failures) > 0 || len(after.failures) > 0 {
		t.Fatalf("requests failed during reload: %v %v", load.failures, after.failures)
	}
	_, total := load.share("")
	t.Logf("%d requests under load across the reload, 0 failed", total)
	// σ at p=0.5, n=4,000 is 0.8 pp.
	if v1, _ := after.share("v1-"); v1 < 0.46 || v1 > 0.54 {
		t.Errorf("after reload v1 share = %.1f%%, want 50%% ± 4 pp", 100*v1)
	}
}

func TestBadReloadKeepsServingAndNamesFileLineField(t *testing.T) {
	f := startFixture(t, 20, 80)
	before := f.gateway.Snapshot().Version

	bad := strings.Replace(fmt.Sprintf(canaryVS, 50, 50), "      weight: 50\n", "      wieght: 50\n", 1)
	writeFile(t, filepath.Join(f.dir, "vs.yaml"), bad)

	deadline := time.Now().Add(3 * time.Second)
	for !f.gateway.Status().Rejected {
		if time.Now().After(deadline) {
			t.Fatalf("bad configuration was not reported; status %+v", f.gateway.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := f.gateway.Status()
	if st.Version != before || f.gateway.Snapshot().Version != before {
		t.Fatalf("version moved from %d to %d on a rejected update", before, st.Version)
	}
	var found bool
	for _, d := range st.Diagnostics {
		s := d.String()
		// "wieght" is on line 11 of vs.yaml (the first route's weight).
		if strings.Contains(s, "vs.yaml:11:") && strings.Contains(s, "spec.http[0].route[0].wieght") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no diagnostic names vs.yaml:11 and spec.http[0].route[0].wieght: %v", st.Diagnostics)
	}

	c := newTally()
	send(f.url, 2000, 4, c)
	if len(c.failures) > 0 {
		t.Fatalf("requests failed after a rejected reload: %v", c.failures)
	}
	if v1, _ := c.share("v1-"); v1 < 0.16 || v1 > 0.24 {
		t.Errorf("v1 share = %.1f%% after a rejected reload, want the old 20%%", 100*v1)
	}
}

func TestReadinessAndAdmin(t *testing.T) {
	f := startFixture(t, 20, 80)
	c := newTally()
	send(f.url, 20, 2, c)
	if len(c.failures) > 0 {
		t.Fatalf("requests failed: %v", c.failures)
	}
	for _, tc := range []struct{ url, want string }{
		{"http://" + f.gateway.StatusAddr() + "/healthz/ready", "LIVE"},
		{"http://" + f.gateway.AdminAddr() + "/ready", "LIVE"},
		{"http://" + f.gateway.AdminAddr() + "/clusters", `"outbound|80|v1|echoserver-service.default.svc.cluster.local"`},
		{"http://" + f.gateway.AdminAddr() + "/config_dump", `"virtualHosts"`},
		// Istio's standard request metric, labelled with the subset's version.
		{"http://" + f.gateway.AdminAddr() + "/stats/prometheus", `destination_version="v2"`},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s = %d %q, want 200 containing %s", tc.url, resp.StatusCode, body, tc.want)
		}
	}
	f.gateway.Shutdown()
	// After shutdown begins readiness must fail, before anything else.
	if f.gateway.Ready() {
		t.Error("gateway still ready after shutdown began")
	}
}
