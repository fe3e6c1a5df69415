package dataplane

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/live"
	"github.com/meshgate/meshgate/internal/telemetry/tracing"
)

// BenchmarkProxiedRequestTelemetry is BenchmarkProxiedRequest with the
// telemetry a production gateway runs: the access log (text, every
// request), trace propagation at Istio's default sampling without an
// exporter, and the live page's counters. The difference between the two
// is what the telemetry costs per request.
func BenchmarkProxiedRequestTelemetry(b *testing.B) {
	s, err := echo.Start("a", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	access := accesslog.New(io.Discard, accesslog.Options{Format: accesslog.Text, SamplePercent: 100})
	defer access.Close()
	tracer, err := tracing.New(tracing.Options{SamplePercent: tracing.DefaultSamplePercent})
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Options{AccessLog: access, Tracer: tracer, Live: live.New()})
	defer srv.Close()
	snap := oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBLeastRequest, s.Addr()))
	snap.Seal()
	srv.Apply(snap)
	ts := httptest.NewServer(srv.Handler(SocketAddress(snap.Listeners[0])))
	defer ts.Close()
	client := ts.Client()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.Host = "example.com"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
