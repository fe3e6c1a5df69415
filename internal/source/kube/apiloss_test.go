package kube_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/translate"
)

// TestAPIServerLost takes the gateway's API server away while another
// one of the same cluster stays up: the gateway keeps serving its last
// configuration, stays ready, says what is wrong in its readiness details
// and logs, and catches up on what changed meanwhile when the server is
// back, without a restart.
func TestAPIServerLost(t *testing.T) {
	e := newEnv(t)
	flaky, err := e.cp.NewAPIServer("flaky-" + e.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer flaky.Stop()

	port := freePort(t)
	e.gateway("gw", uint32(port))
	e.route("echo", "gw", "echo")
	e.service("echo", map[string]string{"app": "echo"}, nil)
	one := e.backend("one", map[string]string{"app": "echo"}, "")
	e.slice("echo-1", "echo", ready(one))
	gw := e.startGateway(flaky.Config(), port, func(o *kube.Options, _ *translate.Identity) {
		o.ProbeInterval = 200 * time.Millisecond
	})
	unreachable := func() bool {
		return slices.ContainsFunc(gw.ReadinessDetails(), func(d string) bool { return strings.Contains(d, "API server unreachable") })
	}

	flaky.Stop()
	waitFor(t, 10*time.Second, "the lost API server in the readiness details", unreachable)
	resp, err := http.Get("http://" + gw.AdminAddr() + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "LIVE\n") || !strings.Contains(string(body), "kube:test: API server unreachable since") {
		t.Errorf("/ready = %d %q, want 200 LIVE with the lost API server in the details", resp.StatusCode, body)
	}
	if !strings.Contains(gw.logs.String(), "Kubernetes API server unreachable") {
		t.Error("the lost API server was not logged")
	}
	var c tally
	send(port, 100, &c)
	if c.by["one"] != 100 {
		t.Errorf("while the API server is away: %v, failures %v", c.by, c.failures)
	}

	// A change through the API server that stayed up; the gateway sees it
	// once its own is back.
	two := e.backend("two", map[string]string{"app": "echo"}, "")
	e.setSlice("echo-1", "echo", ready(one, two))
	restarted := time.Now()
	if err := flaky.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the change made while away", func() bool {
		c := gw.Snapshot().Cluster("outbound|80||echo." + e.ns + ".svc.cluster.local")
		return c != nil && len(c.Endpoints) == 2
	})
	t.Logf("caught up %v after the API server came back", time.Since(restarted).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "the readiness details to clear", func() bool { return !unreachable() })
	if !strings.Contains(gw.logs.String(), "Kubernetes API server reachable again") {
		t.Error("the reconnection was not logged")
	}
}
