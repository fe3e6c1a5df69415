package live

import (
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

func TestRateSeriesAndSplit(t *testing.T) {
	r := New()
	now := time.Unix(1_800_000_000, 0)
	at := func(ago time.Duration, route, cluster string, status int) {
		r.Observe(&accesslog.Record{Start: now.Add(-ago), Status: status, RouteName: route, UpstreamCluster: cluster})
	}
	// 10 s ago to 1 s ago: 8 to v1 and 2 to v2 per second, one 503 a second.
	for s := 1; s <= 10; s++ {
		for range 8 {
			at(time.Duration(s)*time.Second, "r", "v1", 200)
		}
		at(time.Duration(s)*time.Second, "r", "v2", 200)
		at(time.Duration(s)*time.Second, "r", "v2", 503)
	}
	// Old traffic, outside every window.
	at(Window+time.Minute, "r", "v1", 200)
	// A route answered locally counts in the rate but in no split.
	at(time.Second, "direct", "", 200)

	req, errs := r.Rate(now, 10*time.Second)
	if req != 10.1 || errs != 1 {
		t.Errorf("rate %v req/s %v err/s, want 10.1 and 1", req, errs)
	}
	if v1, v2 := r.Split(now, "r", "v1"), r.Split(now, "r", "v2"); v1 != 72 || v2 != 18 {
		// The split window is the 10 s up to now, current second
		// included: seconds 9 ago to 0 ago hold 9 seconds of traffic.
		t.Errorf("split v1=%d v2=%d, want 72 and 18", v1, v2)
	}
	if n := r.Split(now, "direct", ""); n != 0 {
		t.Errorf("local route split %d", n)
	}
	series := r.Series(now, 10*time.Second)
	if len(series) != int(Window/(10*time.Second)) {
		t.Fatalf("%d points", len(series))
	}
	var total, failed int64
	for _, p := range series {
		total += p.Requests
		failed += p.Errors
	}
	if total != 101 || failed != 10 {
		t.Errorf("series holds %d requests, %d errors; want 101 and 10", total, failed)
	}
	if last := series[len(series)-1]; last.Time+10 != now.Unix() {
		t.Errorf("last point starts at %d, want %d", last.Time, now.Unix()-10)
	}
}

func TestObserveAllocatesNothing(t *testing.T) {
	r := New()
	rec := accesslog.Record{Start: time.Now(), Status: 200, RouteName: "r", UpstreamCluster: "c"}
	r.Observe(&rec)
	if n := testing.AllocsPerRun(1000, func() { r.Observe(&rec) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
