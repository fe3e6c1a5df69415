package admin

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/live"
	"github.com/meshgate/meshgate/internal/translate"
)

// /ui/data puts the observed split next to the configured weights, and
// lists every cluster with its endpoints by priority and locality.
func TestLiveData(t *testing.T) {
	var b resource.Bundle
	if diags := resource.DecodeFile("cfg.yaml", []byte(viewsConfig), &b); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap, diags := translate.Build(&b, translate.Identity{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	srv := dataplane.New(dataplane.Options{})
	t.Cleanup(srv.Close)
	srv.Apply(snap)
	g := &testGateway{srv: srv, snap: snap}

	rec := live.New()
	const v1, v2 = "outbound|80|v1|echo.example.com", "outbound|80|v2|echo.example.com"
	// Two seconds ago: inside the rate's window, which leaves out the
	// current second.
	now := time.Now().Add(-2 * time.Second)
	for i := range 100 {
		c, status := v1, 200
		if i%4 == 0 {
			c = v2 // 25% observed where 20% is configured
		}
		if i%10 == 0 {
			status = 503
		}
		rec.Observe(&accesslog.Record{Start: now, Status: status, RouteName: "default/echo/1", UpstreamCluster: c})
	}
	lv := NewLive(g, rec, time.Hour)
	t.Cleanup(lv.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: WithLive(Handler(g), lv), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	base := "http://" + ln.Addr().String()

	code, ctype, page := getBody(t, base+"/ui")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(page, `fetch("ui/data"`) {
		t.Fatalf("/ui: %d %s", code, ctype)
	}
	// The admin API still answers under the page.
	if code, _, _ := getBody(t, base+"/routes"); code != 200 {
		t.Errorf("/routes behind the live page: %d", code)
	}

	code, _, body := getBody(t, base+"/ui/data")
	if code != 200 {
		t.Fatalf("/ui/data: %d", code)
	}
	var d liveData
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	var split *liveRoute
	for i := range d.Routes {
		if d.Routes[i].Name == "default/echo/1" {
			split = &d.Routes[i]
		}
	}
	if split == nil || len(split.Destinations) != 2 {
		t.Fatalf("routes: %+v", d.Routes)
	}
	got := map[string]liveDestination{}
	for _, dst := range split.Destinations {
		got[dst.Cluster] = dst
	}
	if got[v1].Percent != 80 || got[v1].Observed != 75 || got[v1].ObservedPercent != 75 ||
		got[v2].Percent != 20 || got[v2].Observed != 25 || got[v2].ObservedPercent != 25 {
		t.Errorf("split %+v", got)
	}
	if d.RequestRate != 10 || d.ErrorRate != 1 {
		t.Errorf("rates %v req/s %v err/s, want 100 and 10 requests over 10 s", d.RequestRate, d.ErrorRate)
	}
	names := map[string]liveCluster{}
	for _, c := range d.Clusters {
		names[c.Name] = c
	}
	c1, ok := names[v1]
	if !ok || len(c1.Priorities) != 1 || len(c1.Priorities[0].Localities) != 1 ||
		len(c1.Priorities[0].Localities[0].Endpoints) != 1 || c1.Priorities[0].Localities[0].Endpoints[0].Health != "HEALTHY" {
		t.Errorf("cluster v1 %+v", c1)
	}
	if n := len(c1.History); n == 0 || c1.History[n-1].Healthy != 1 || c1.History[n-1].Ejected != 0 {
		t.Errorf("cluster v1 history %+v", c1.History)
	}
}
