package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

// The locality tests run a gateway in region1/zone1 in front of six echo
// backends on loopback, two per locality, declared as WorkloadEntries of
// one Service, and a DestinationRule the test chooses.

// echoCluster is the cluster of the Service "echo", port 80, no subset.
const echoCluster = "outbound|80||echo.default.svc.cluster.local"

// zones places each backend: the name's prefix is its zone.
var zones = []struct{ name, locality string }{
	{"z1-a", "region1/zone1"}, {"z1-b", "region1/zone1"},
	{"z2-a", "region1/zone2"}, {"z2-b", "region1/zone2"},
	{"z3-a", "region2/zone3"}, {"z3-b", "region2/zone3"},
}

// outlierDetection ejects after three 5xx, sweeps every second and
// ejects for 2s × the ejection count, with no cap on how many hosts go.
const outlierDetection = `    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 2s
      maxEjectionPercent: 100
`

type localityFixture struct {
	url      string
	admin    string
	gateway  *Gateway
	backends map[string]*echo.Server
}

// localitySetup describes one scenario: the DestinationRule's metadata
// extras and trafficPolicy, the gateway's extra labels, and extra labels
// per backend.
type localitySetup struct {
	annotations   map[string]string
	trafficPolicy string
	gatewayLabels map[string]string
	labels        func(name string) map[string]string
}

func startLocality(t *testing.T, s localitySetup) *localityFixture {
	t.Helper()
	f := &localityFixture{backends: map[string]*echo.Server{}}
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: %d}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: echo, port: {number: 80}}}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
  namespace: default
  annotations: %s
spec:
  host: echo
  trafficPolicy:
%s`, port, jsonMap(s.annotations), s.trafficPolicy)
	for _, z := range zones {
		srv, err := echo.Start(z.name, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		f.backends[z.name] = srv
		_, bp, _ := net.SplitHostPort(srv.Addr())
		labels := map[string]string{"app": "echo"}
		if s.labels != nil {
			for k, v := range s.labels(z.name) {
				labels[k] = v
			}
		}
		fmt.Fprintf(&b, `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-%s, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: %s}
  locality: %s
  labels: %s
`, z.name, bp, z.locality, jsonMap(labels))
	}
	writeFile(t, filepath.Join(dir, "config.yaml"), b.String())

	labels := map[string]string{"istio": "ingressgateway"}
	for k, v := range s.gatewayLabels {
		labels[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{dir},
		Identity: translate.Identity{
			Labels: labels, Namespace: "istio-system",
			Locality: snapshot.Locality{Region: "region1", Zone: "zone1"},
		},
		AdminAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Shutdown(); gw.Wait() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; diagnostics: %v; publish error: %s", err, gw.Diagnostics(), gw.Status().PublishError)
	}
	for _, d := range gw.Diagnostics() {
		t.Logf("diagnostic: %s", d)
	}
	f.gateway = gw
	f.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	f.admin = "http://" + gw.AdminAddr()
	return f
}

// jsonMap renders a map as a YAML flow mapping (JSON is YAML).
func jsonMap(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// answers counts responses by backend and status: "z1-a" for a 200 from
// z1-a, "z1-a 503" for a 503 from it, "gateway 503" for one the gateway
// made up itself.
type answers map[string]int

// batch sends n requests from workers keep-alive clients.
func (f *localityFixture) batch(t *testing.T, n, workers int) answers {
	t.Helper()
	var mu sync.Mutex
	out := answers{}
	var next atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				key := "error"
				if resp, err := client.Get(f.url); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = resp.Header.Get(echo.NameHeader)
					if key == "" {
						key = "gateway"
					}
					if resp.StatusCode != http.StatusOK {
						key += fmt.Sprintf(" %d", resp.StatusCode)
					}
				}
				mu.Lock()
				out[key]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// share is the fraction of all answers that are 200s from backends whose
// name starts with prefix.
func (a answers) share(prefix string) float64 {
	n, total := 0, 0
	for k, v := range a {
		total += v
		if strings.HasPrefix(k, prefix) && !strings.Contains(k, " ") {
			n += v
		}
	}
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// from counts every answer, successful or not, from backends whose name
// starts with prefix.
func (a answers) from(prefix string) int {
	n := 0
	for k, v := range a {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

func (a answers) String() string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, a[k])
	}
	return strings.Join(parts, " ")
}

// clusters fetches /clusters from the admin API, for the echo cluster
// only (the admin API's filter).
func (f *localityFixture) clusters(t *testing.T) map[string]dataplane.ClusterStatus {
	t.Helper()
	resp, err := http.Get(f.admin + "/clusters?cluster=" + url.QueryEscape(echoCluster))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cs []dataplane.ClusterStatus
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		t.Fatalf("decoding /clusters: %v", err)
	}
	out := map[string]dataplane.ClusterStatus{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

// endpointByName returns the /clusters entry of a backend.
func (f *localityFixture) endpointByName(t *testing.T, c dataplane.ClusterStatus, name string) dataplane.EndpointStatus {
	t.Helper()
	for _, e := range c.Endpoints {
		if e.Address == f.backends[name].Addr() {
			return e
		}
	}
	t.Fatalf("no endpoint for %s in %s", name, c.Name)
	return dataplane.EndpointStatus{}
}

// setStatus switches the backends whose name starts with prefix.
func (f *localityFixture) setStatus(prefix string, code int) {
	for name, b := range f.backends {
		if strings.HasPrefix(name, prefix) {
			b.SetStatus(code)
		}
	}
}

// until sends batches of n requests until ok accepts one, and fails the
// test at the deadline. It returns the accepted batch and how long it
// took to get there.
func (f *localityFixture) until(t *testing.T, what string, n int, deadline time.Duration, ok func(answers) bool) (answers, time.Duration) {
	t.Helper()
	start := time.Now()
	var last answers
	for time.Since(start) < deadline {
		last = f.batch(t, n, 4)
		if ok(last) {
			return last, time.Since(start)
		}
	}
	t.Fatalf("%s: not within %v; last batch %v; clusters %s", what, deadline, last, f.describe(t))
	return nil, 0
}

// describe summarises the echo cluster's endpoints for failure messages.
func (f *localityFixture) describe(t *testing.T) string {
	c := f.clusters(t)[echoCluster]
	var b strings.Builder
	for _, z := range zones {
		e := f.endpointByName(t, c, z.name)
		fmt.Fprintf(&b, "%s[p%d %s", z.name, e.Priority, e.Health)
		if e.Outlier != nil && e.Outlier.Ejected {
			fmt.Fprintf(&b, " %s left", e.Outlier.EjectionTimeLeft)
		}
		b.WriteString("] ")
	}
	for _, l := range c.Priorities.Levels {
		fmt.Fprintf(&b, "P%d=%d%% ", l.Priority, l.HealthyLoad)
	}
	return b.String()
}

func TestLocalityFailoverEndToEnd(t *testing.T) {
	f := startLocality(t, localitySetup{trafficPolicy: outlierDetection})
	c := f.clusters(t)[echoCluster]
	for _, z := range zones {
		want := map[string]uint32{"z1": 0, "z2": 1, "z3": 2}[z.name[:2]]
		if e := f.endpointByName(t, c, z.name); e.Priority != want {
			t.Fatalf("%s (%s) has priority %d, want %d: %s", z.name, z.locality, e.Priority, want, f.describe(t))
		}
	}

	// (a) Everything healthy: traffic stays in the gateway's zone.
	a := f.batch(t, 2000, 8)
	t.Logf("all healthy: %v", a)
	if s := a.share("z1-"); s < 0.99 {
		t.Fatalf("all healthy: %.1f%% from zone1, want ≥ 99%%: %v", 100*s, a)
	}

	// (b) zone1 answers 503: after three each both are ejected and
	// region1/zone2 takes over; region2 sees nothing, as zone2 is healthy.
	f.setStatus("z1-", http.StatusServiceUnavailable)
	var during answers = answers{}
	_, took := f.until(t, "traffic to move to zone2", 200, 10*time.Second, func(b answers) bool {
		for k, v := range b {
			during[k] += v
		}
		return b.share("z2-") >= 0.99
	})
	t.Logf("zone1 failing: moved to zone2 in %v; answers on the way %v", took.Round(time.Millisecond), during)
	if n := during.from("z3-"); n != 0 {
		t.Errorf("region2 answered %d requests while region1/zone2 was healthy: %v", n, during)
	}
	c = f.clusters(t)[echoCluster]
	for _, name := range []string{"z1-a", "z1-b"} {
		if e := f.endpointByName(t, c, name); e.Health != "EJECTED" || e.Outlier == nil || e.Outlier.Ejections == 0 {
			t.Errorf("%s after failing: %+v, want ejected", name, e)
		}
	}
	if l := c.Priorities.Levels; len(l) != 3 || l[0].HealthyLoad != 0 || l[1].HealthyLoad != 100 {
		t.Errorf("priority loads with zone1 ejected: %s, want 0/100/0", f.describe(t))
	}
	if st := c.Outlier.Stats; st.EjectionsTotal < 2 || st.EjectionsOverflow != 0 {
		t.Errorf("outlier stats %+v, want at least 2 ejections and no overflow", st)
	}

	// Then zone2 fails as well: region2 takes over.
	f.setStatus("z2-", http.StatusServiceUnavailable)
	_, took = f.until(t, "traffic to move to region2", 200, 10*time.Second, func(b answers) bool {
		return b.share("z3-") >= 0.99
	})
	t.Logf("zone1 and zone2 failing: moved to region2 in %v", took.Round(time.Millisecond))

	// (c) Restore: traffic comes back to zone1 once its ejection ends
	// (the first sweep after base ejection time × ejection count).
	c = f.clusters(t)[echoCluster]
	var left time.Duration
	for _, name := range []string{"z1-a", "z1-b"} {
		if e := f.endpointByName(t, c, name); e.Outlier != nil && e.Outlier.Ejected {
			d, _ := time.ParseDuration(e.Outlier.EjectionTimeLeft)
			left = max(left, d)
		}
	}
	f.setStatus("", 0)
	if left > 500*time.Millisecond {
		// Still ejected: restored or not, zone1 gets nothing yet.
		if b := f.batch(t, 50, 2); b.from("z1-") != 0 {
			t.Errorf("zone1 served %v with %v of its ejection left", b, left)
		}
	}
	back, took := f.until(t, "traffic to return to zone1", 200, 20*time.Second, func(b answers) bool {
		return b.share("z1-") >= 0.99
	})
	t.Logf("restored: back in zone1 after %v (ejection time left at restore: %v): %v", took.Round(time.Millisecond), left, back)
	// Hosts return at the first sweep at or after the end of their
	// ejection, never before (allowing for the admin API's rounding).
	if took < left-50*time.Millisecond {
		t.Errorf("zone1 was back after %v with %v of its ejection left", took, left)
	}
	if n := len(f.clusters(t)); n != 1 {
		t.Errorf("/clusters?cluster= returned %d clusters, want 1", n)
	}
}

func TestLocalityDistributeEndToEnd(t *testing.T) {
	f := startLocality(t, localitySetup{trafficPolicy: `    loadBalancer:
      localityLbSetting:
        distribute:
        - from: "*"
          to: {"region1/zone1": 70, "region1/zone2": 30}
`})
	a := f.batch(t, 5000, 8)
	z1, z2 := a.share("z1-"), a.share("z2-")
	t.Logf("distribute 70/30 over 5,000 requests: zone1 %.2f%%, zone2 %.2f%% (%v)", 100*z1, 100*z2, a)
	// σ of a share at p = 0.7, n = 5,000 is 0.65 pp: ±3 pp is > 4.5σ.
	if z1 < 0.67 || z1 > 0.73 || z2 < 0.27 || z2 > 0.33 || z1+z2 != 1 {
		t.Errorf("zone1 %.2f%% zone2 %.2f%%, want 70/30 ± 3 pp and nothing elsewhere", 100*z1, 100*z2)
	}
	c := f.clusters(t)[echoCluster]
	if !c.Priorities.LocalityWeighted || len(c.Priorities.Levels) != 1 {
		t.Errorf("priority table %+v, want one locality-weighted priority", c.Priorities)
	}
}

func TestFailoverPriorityEndToEnd(t *testing.T) {
	// Gateway on rack r1, row a. Labels rank before locality: z1 shares
	// rack and row (P0), z3 shares only the rack (P1), z2 shares only
	// the row, which does not count once the rack differs (P2). Locality
	// alone would have put zone2 before region2.
	labels := map[string]map[string]string{
		"z1": {"rack": "r1", "row": "a"},
		"z3": {"rack": "r1", "row": "b"},
		"z2": {"rack": "r2", "row": "a"},
	}
	f := startLocality(t, localitySetup{
		trafficPolicy: `    loadBalancer:
      localityLbSetting:
        failoverPriority: [rack, row]
` + outlierDetection,
		gatewayLabels: map[string]string{"rack": "r1", "row": "a"},
		labels:        func(name string) map[string]string { return labels[name[:2]] },
	})
	c := f.clusters(t)[echoCluster]
	for _, z := range zones {
		want := map[string]uint32{"z1": 0, "z3": 1, "z2": 2}[z.name[:2]]
		if e := f.endpointByName(t, c, z.name); e.Priority != want {
			t.Fatalf("%s %v has priority %d, want %d: %s", z.name, labels[z.name[:2]], e.Priority, want, f.describe(t))
		}
	}
	if a := f.batch(t, 500, 4); a.share("z1-") < 0.99 {
		t.Fatalf("all healthy: %v, want all on rack r1 row a", a)
	}
	f.setStatus("z1-", http.StatusServiceUnavailable)
	during := answers{}
	f.until(t, "traffic to move to rack r1 row b", 200, 10*time.Second, func(b answers) bool {
		for k, v := range b {
			during[k] += v
		}
		return b.share("z3-") >= 0.99
	})
	if n := during.from("z2-"); n != 0 {
		t.Errorf("rack r2 answered %d requests while rack r1 row b was healthy: %v", n, during)
	}
	f.setStatus("z3-", http.StatusServiceUnavailable)
	f.until(t, "traffic to move to rack r2", 200, 10*time.Second, func(b answers) bool {
		return b.share("z2-") >= 0.99
	})
}

func TestSpilloverAnnotationEndToEnd(t *testing.T) {
	f := startLocality(t, localitySetup{
		annotations:   map[string]string{"meshgate.io/spillover-max-active-requests": "2"},
		trafficPolicy: outlierDetection,
	})
	for _, b := range f.backends {
		b.SetDelay(20 * time.Millisecond)
	}
	c := f.clusters(t)[echoCluster]
	if c.Spillover == nil || c.Spillover.MaxActiveRequestsPerEndpoint != 2 {
		t.Fatalf("spillover in /clusters = %+v, want the annotation's 2", c.Spillover)
	}
	// zone1 holds 2 × 2 = 4 requests before it saturates.
	low := f.batch(t, 100, 2)
	high := f.batch(t, 600, 24)
	t.Logf("2 clients: %.1f%% left zone1; 24 clients: %.1f%% (%v)", 100*(1-low.share("z1-")), 100*(1-high.share("z1-")), high)
	if low.share("z1-") != 1 {
		t.Errorf("below the threshold: %v, want everything in zone1", low)
	}
	if s := high.share("z1-"); s > 0.8 || high.share("z2-") == 0 {
		t.Errorf("well above the threshold: %.1f%% in zone1, want a sizeable share spilled to zone2: %v", 100*s, high)
	}
	if st := f.clusters(t)[echoCluster].Spillover; st.Spilled == 0 {
		t.Errorf("/clusters spillover %+v, want spills counted", st)
	}
}
