package admin

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"github.com/meshgate/meshgate/internal/translate"
)

// testGateway is the admin view of a data plane serving one snapshot.
type testGateway struct {
	srv  *dataplane.Server
	snap *snapshot.Snapshot
}

func (g *testGateway) Ready() bool                         { return true }
func (g *testGateway) Snapshot() *snapshot.Snapshot        { return g.snap }
func (g *testGateway) Clusters() []dataplane.ClusterStatus { return g.srv.Clusters() }
func (g *testGateway) Status() pipeline.Status {
	return pipeline.Status{Version: g.snap.Version, AppliedAt: time.Unix(1700000000, 0)}
}

func backend(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(b.Close)
	_, port, _ := net.SplitHostPort(b.Listener.Addr().String())
	return b, port
}

// TestPrometheusAfterTraffic sends an 80/20 split through the data plane,
// breaks one backend so outlier detection ejects it, then scrapes
// /stats/prometheus and checks Istio's request metrics and the gateway's
// cluster state by name, labels and count.
func TestPrometheusAfterTraffic(t *testing.T) {
	_, p1 := backend(t)
	b2, p2 := backend(t)
	cfg := `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: ` + p1 + `}, labels: {app: echo, version: v1}}
  - {address: 127.0.0.1, ports: {http: ` + p2 + `}, labels: {app: echo, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo.example.com
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http:
  - route:
    - {destination: {host: echo.example.com, subset: v1}, weight: 80}
    - {destination: {host: echo.example.com, subset: v2}, weight: 20}
`
	var b resource.Bundle
	if diags := resource.DecodeFile("cfg.yaml", []byte(cfg), &b); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap, diags := translate.Build(&b, translate.Identity{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap.Version = 3

	rec := metrics.New(metrics.Options{Source: metrics.SourceFromLabels("meshgate", "istio-system", "", nil)})
	srv := dataplane.New(dataplane.Options{Metrics: rec})
	t.Cleanup(srv.Close)
	srv.Apply(snap)
	rec.Apply(snap)
	front := httptest.NewServer(srv.Handler(dataplane.SocketAddress(snap.Listeners[0])))
	t.Cleanup(front.Close)

	get := func() int {
		resp, err := http.Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const n = 200
	for range n {
		if code := get(); code != 200 {
			t.Fatalf("status %d before the backend broke", code)
		}
	}
	b2.Close()
	failed := 0
	for range 100 {
		if get() == 503 {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no request reached the broken backend")
	}

	g := &testGateway{srv: srv, snap: snap}
	h := WithPrometheus(Handler(g), g, rec)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", PrometheusPath, nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	samples := parseExposition(t, w.Body.String())

	v1 := samples.sum("istio_requests_total", `reporter="source"`, `destination_version="v1"`, `response_code="200"`,
		`destination_service="echo.example.com"`, `source_workload="meshgate"`, `response_flags="-"`)
	v2 := samples.sum("istio_requests_total", `destination_version="v2"`, `response_code="200"`)
	broken := samples.sum("istio_requests_total", `response_code="503"`)
	if int(broken) != failed {
		t.Errorf("istio_requests_total 503 = %v, want %d", broken, failed)
	}
	if total := samples.sum("istio_requests_total"); int(total) != n+100 {
		t.Errorf("istio_requests_total = %v, want %d", total, n+100)
	}
	if share := v2 / (v1 + v2); v1+v2 < n || share < 0.1 || share > 0.3 {
		t.Errorf("v1 %v, v2 %v of the first %d: not an 80/20 split", v1, v2, n)
	}
	if c := samples.sum("istio_request_duration_milliseconds_count"); int(c) != n+100 {
		t.Errorf("istio_request_duration_milliseconds_count = %v", c)
	}
	if c := samples.sum("istio_response_bytes_sum", `response_code="200"`); c != 2*(v1+v2) {
		t.Errorf("istio_response_bytes_sum = %v, want %v (2 bytes per ok)", c, 2*(v1+v2))
	}
	if samples.sum("istio_request_duration_milliseconds_bucket", `le="0.5"`) == 0 &&
		samples.sum("istio_request_duration_milliseconds_bucket", `le="3.6e+06"`) == 0 {
		t.Error("duration histogram lacks Istio's buckets")
	}
	v2Cluster := `cluster="outbound|80|v2|echo.example.com"`
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"meshgate_cluster_endpoints", []string{v2Cluster, `health="EJECTED"`}, 1},
		{"meshgate_cluster_endpoints", []string{`cluster="outbound|80|v1|echo.example.com"`, `health="HEALTHY"`}, 1},
		{"meshgate_cluster_outlier_ejections_active", []string{v2Cluster}, 1},
		{"meshgate_cluster_outlier_ejections_total", []string{v2Cluster}, 1},
		{"meshgate_cluster_priority_load_percent", []string{`cluster="outbound|80|v1|echo.example.com"`, `priority="0"`, `health="healthy"`}, 100},
		{"meshgate_config_version", nil, 3},
		{"meshgate_config_generation", nil, 3},
		{"meshgate_config_last_update_rejected", nil, 0},
	}
	for _, c := range checks {
		if got := samples.sum(c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	if !strings.Contains(w.Body.String(), "# TYPE istio_request_duration_milliseconds histogram") {
		t.Error("istio_request_duration_milliseconds is not a histogram")
	}
}

type exposition []struct {
	name, labels string
	value        float64
}

// parseExposition reads the sample lines of the text format.
func parseExposition(t *testing.T, body string) exposition {
	t.Helper()
	var out exposition
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		out = append(out, struct {
			name, labels string
			value        float64
		}{name, labels, v})
	}
	return out
}

// sum adds the samples of name whose labels contain every given pair.
func (e exposition) sum(name string, labels ...string) float64 {
	total := 0.0
	for _, s := range e {
		if s.name != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(s.labels, l) {
				ok = false
			}
		}
		if ok {
			total += s.value
		}
	}
	return total
}
