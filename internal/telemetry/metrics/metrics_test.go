package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	dto "github.com/prometheus/client_model/go"
)

const cluster = "outbound|9080|v1|reviews.default.svc.cluster.local"

func testSnapshot(version uint64) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Version: version, Clusters: []*snapshot.Cluster{{
		Name: cluster, Service: "reviews.default.svc.cluster.local", Port: 9080, Subset: "v1",
		Endpoints: []snapshot.Endpoint{
			{Address: "10.0.0.1:9080", Labels: map[string]string{"app": "reviews", "version": "v1"}, Origin: "WorkloadEntry default/reviews-v1-a", Cluster: "c1"},
			{Address: "10.0.0.2:9080", Labels: map[string]string{"app": "reviews", "version": "v1"}, Origin: "WorkloadEntry default/reviews-v1-b", Cluster: "c1"},
		},
	}, {
		Name: "outbound|443||api.example.com", Service: "api.example.com", Port: 443,
		Endpoints: []snapshot.Endpoint{{Address: "1.2.3.4:443"}},
	}}}
	s.Seal()
	return s
}

func newTestRecorder() *Recorder {
	r := New(Options{Source: SourceFromLabels("istio-ingressgateway", "istio-system", "c1",
		map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"})})
	r.Apply(testSnapshot(7))
	return r
}

// series returns the samples of a metric family as "label=value,..." →
// value (counter value or histogram count), labels sorted by name.
func series(t *testing.T, r *Recorder, name string) map[string]float64 {
	t.Helper()
	mfs, err := r.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelString(m)] = value(m)
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// labelsOf renders the want label map like labelString.
func labelsOf(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func sourceLabels() map[string]string {
	return map[string]string{
		"reporter": "source", "source_workload": "istio-ingressgateway", "source_workload_namespace": "istio-system",
		"source_principal": "unknown", "source_app": "istio-ingressgateway", "source_version": "unknown",
		"source_canonical_service": "istio-ingressgateway", "source_canonical_revision": "latest", "source_cluster": "c1",
		"connection_security_policy": "unknown",
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestObserveHTTPLabels(t *testing.T) {
	reviewsV1 := with(sourceLabels(),
		"destination_workload", "reviews-v1-a", "destination_workload_namespace", "default", "destination_principal", "unknown",
		"destination_app", "reviews", "destination_version", "v1", "destination_service", "reviews.default.svc.cluster.local",
		"destination_service_name", "reviews", "destination_service_namespace", "default",
		"destination_canonical_service", "reviews", "destination_canonical_revision", "v1", "destination_cluster", "c1",
		"request_protocol", "http", "response_flags", "-", "response_code", "200", "grpc_response_status", "")
	unknownDest := with(sourceLabels(),
		"destination_workload", "unknown", "destination_workload_namespace", "unknown", "destination_principal", "unknown",
		"destination_app", "unknown", "destination_version", "unknown", "destination_service", "unknown",
		"destination_service_name", "unknown", "destination_service_namespace", "unknown",
		"destination_canonical_service", "unknown", "destination_canonical_revision", "latest", "destination_cluster", "unknown",
		"request_protocol", "http", "grpc_response_status", "")
	tests := []struct {
		name string
		rec  accesslog.Record
		ct   string
		resp http.Header
		want map[string]string
	}{
		{"routed to an endpoint", accesslog.Record{Status: 200, UpstreamCluster: cluster, UpstreamHost: "10.0.0.1:9080"}, "", nil, reviewsV1},
		{"no route", accesslog.Record{Status: 404, Flags: accesslog.NoRoute}, "", nil,
			with(unknownDest, "response_code", "404", "response_flags", "NR")},
		{"no healthy upstream", accesslog.Record{Status: 503, Flags: accesslog.NoHealthyUpstream, UpstreamCluster: cluster}, "", nil,
			with(unknownDest, "response_code", "503", "response_flags", "UH", "destination_service", "reviews.default.svc.cluster.local",
				"destination_service_name", "reviews", "destination_service_namespace", "default")},
		{"grpc with trailer status", accesslog.Record{Status: 200, UpstreamCluster: cluster, UpstreamHost: "10.0.0.1:9080"},
			"application/grpc+proto", http.Header{http.TrailerPrefix + "Grpc-Status": {"14"}},
			with(reviewsV1, "request_protocol", "grpc", "grpc_response_status", "14")},
		{"service entry host", accesslog.Record{Status: 502, UpstreamCluster: "outbound|443||api.example.com", UpstreamHost: "1.2.3.4:443"}, "", nil,
			with(unknownDest, "response_code", "502", "response_flags", "-", "destination_service", "api.example.com", "destination_service_name", "api.example.com")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRecorder()
			req := httptest.NewRequest("POST", "/", nil)
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			tc.rec.Duration = 3 * time.Millisecond
			tc.rec.BytesReceived, tc.rec.BytesSent = 10, 20
			r.ObserveHTTP(&tc.rec, req, tc.resp)
			r.ObserveHTTP(&tc.rec, req, tc.resp)
			want := labelsOf(tc.want)
			for _, name := range []string{RequestsTotal, RequestDurationMs, RequestBytes, ResponseBytes} {
				got := series(t, r, name)
				if got[want] != 2 {
					t.Errorf("%s{%s} = %v, want 2; have %v", name, want, got[want], got)
				}
			}
			if n := len(Labels); n != 25 {
				t.Errorf("%d labels, want Istio's 25", n)
			}
		})
	}
}

func TestInternals(t *testing.T) {
	r := newTestRecorder()
	r.Retry(cluster)
	r.Retry(cluster)
	r.Overflow(cluster, LimitPendingRequests)
	r.ConfigUpdate(true)
	r.ConfigUpdate(false)
	r.ConnOpened("0.0.0.0_80")
	r.ConnOpened("0.0.0.0_80")
	r.ConnClosed("0.0.0.0_80")
	checks := []struct {
		name, labels string
		want         float64
	}{
		{"meshgate_upstream_rq_retry_total", "cluster=" + cluster, 2},
		{"meshgate_upstream_rq_overflow_total", "cluster=" + cluster + ",limit=http1_max_pending_requests", 1},
		{"meshgate_config_updates_total", "result=applied", 1},
		{"meshgate_config_updates_total", "result=rejected", 1},
		{"meshgate_config_generation", "", 7},
		{"meshgate_downstream_cx_total", "listener=0.0.0.0_80", 2},
		{"meshgate_downstream_cx_active", "listener=0.0.0.0_80", 1},
	}
	for _, c := range checks {
		if got := series(t, r, c.name)[c.labels]; got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	var nilRecorder *Recorder
	nilRecorder.ObserveHTTP(&accesslog.Record{}, nil, nil)
	nilRecorder.Retry("x")
	nilRecorder.ConnOpened("x")
	nilRecorder.ConnClosed("x")
}

// TestReloadKeepsCounts checks that applying a new snapshot keeps the
// series of endpoints that remain.
func TestReloadKeepsCounts(t *testing.T) {
	r := newTestRecorder()
	rec := accesslog.Record{Status: 200, UpstreamCluster: cluster, UpstreamHost: "10.0.0.2:9080"}
	r.ObserveHTTP(&rec, nil, nil)
	r.Apply(testSnapshot(8))
	r.ObserveHTTP(&rec, nil, nil)
	total := 0.0
	for _, v := range series(t, r, RequestsTotal) {
		total += v
	}
	if total != 2 || len(series(t, r, RequestsTotal)) != 1 {
		t.Errorf("after reload: %v", series(t, r, RequestsTotal))
	}
}

// BenchmarkObserveHTTP measures the per-request cost in steady state:
// every label combination already resolved.
func BenchmarkObserveHTTP(b *testing.B) {
	r := newTestRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	recs := make([]accesslog.Record, 4)
	for i := range recs {
		recs[i] = accesslog.Record{Status: 200 + i, UpstreamCluster: cluster, UpstreamHost: fmt.Sprintf("10.0.0.%d:9080", 1+i%2),
			Duration: time.Duration(i) * time.Millisecond, BytesReceived: 100, BytesSent: 1000}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.ObserveHTTP(&recs[i&3], req, nil)
			i++
		}
	})
}

// BenchmarkObserveHTTPSerial is the same cost on one goroutine.
func BenchmarkObserveHTTPSerial(b *testing.B) {
	r := newTestRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	rec := accesslog.Record{Status: 200, UpstreamCluster: cluster, UpstreamHost: "10.0.0.1:9080", Duration: time.Millisecond, BytesSent: 1000}
	b.ReportAllocs()
	for b.Loop() {
		r.ObserveHTTP(&rec, req, nil)
	}
}
