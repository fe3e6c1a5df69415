package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a headless-capable Chromium; without one the test fails
// (make tools, which make test runs first, installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed; make tools installs it")
	return ""
}

// browser starts headless Chromium and collects the page's console
// errors, uncaught exceptions and failed loads.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1400, 1100),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// The live page loads without console errors, shows the clusters with
// their endpoints and the route's weights, and follows a weight change:
// after the VirtualService moves 90% of the traffic to v2, the page shows
// v2's new weight and the requests that went there; when a v2 endpoint
// starts failing and outlier detection ejects it, the page shows it
// ejected.
func TestLivePageInChromium(t *testing.T) {
	ctx, problems := browser(t)
	f := startFixture(t, 90, 10)
	send := func(n int) {
		t.Helper()
		for range n {
			resp, err := http.Get(f.url)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send(60)

	const (
		v1 = "outbound|80|v1|echoserver-service.default.svc.cluster.local"
		v2 = "outbound|80|v2|echoserver-service.default.svc.cluster.local"
	)
	dest := func(cluster string) string {
		return fmt.Sprintf(`document.querySelector('.dest[data-cluster="%s"]')`, cluster)
	}
	var clusters string
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+f.gateway.AdminAddr()+"/ui"),
		chromedp.WaitVisible(chromedp.CSS(`#clusters .cluster`)),
		chromedp.Poll[chromedp.Void](dest(v1)+`?.dataset.observed > 0 && `+dest(v1)+`.dataset.weight == 90`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err == nil {
		clusters, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID(`clusters`)))
	}
	if err != nil {
		t.Fatalf("live page before the shift: %v; console: %v", err, problems())
	}
	for _, want := range []string{v1, v2, "echoserver-service.default.svc.cluster.local:80 · v1", "priority 0"} {
		if !strings.Contains(clusters, want) {
			t.Errorf("clusters section lacks %q:\n%s", want, clusters)
		}
	}
	for _, b := range f.backends {
		if !strings.Contains(clusters, b.Addr()) {
			t.Errorf("clusters section lacks endpoint %s", b.Addr())
		}
	}
	healthy, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#clusters .endpoint[data-health="HEALTHY"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if healthy != len(f.backends) {
		t.Errorf("%d healthy endpoint chips, want %d", healthy, len(f.backends))
	}

	// Shift most traffic to v2.
	before := f.gateway.Snapshot().Version
	writeFile(t, filepath.Join(f.dir, "vs.yaml"), fmt.Sprintf(canaryVS, 10, 90))
	waitFor(t, func() bool { return f.gateway.Snapshot().Version != before }, "the new weights to apply")
	send(40)
	var v2Observed, v1Weight string
	_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](dest(v2)+`?.dataset.weight == 90 && `+dest(v2)+`.dataset.observed > 0`, chromedp.WithPollingTimeout(10*time.Second)))
	if err == nil {
		v2Observed, err = chromedp.Run(ctx, chromedp.Evaluate[string](dest(v2)+`.textContent`))
	}
	if err == nil {
		v1Weight, err = chromedp.Run(ctx, chromedp.Evaluate[string](dest(v1)+`.dataset.weight`))
	}
	if err != nil {
		t.Fatalf("live page did not follow the weight change: %v; console: %v", err, problems())
	}
	if v1Weight != "10" || !strings.Contains(v2Observed, "weight 90 · 90%") {
		t.Errorf("after the shift: v1 weight %q, v2 row %q", v1Weight, v2Observed)
	}

	// Take a v2 endpoint down: with outlier detection on, the gateway
	// ejects it and the page shows it ejected.
	before = f.gateway.Snapshot().Version
	withOutlier := strings.Replace(canaryGateway, "  host: \"*\"\n", "  host: \"*\"\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 300s, maxEjectionPercent: 50}\n", 1)
	if withOutlier == canaryGateway {
		t.Fatal("could not add outlier detection to the DestinationRule")
	}
	writeFile(t, filepath.Join(f.dir, "gateway.yaml"), withOutlier)
	waitFor(t, func() bool { return f.gateway.Snapshot().Version != before }, "outlier detection to apply")
	var down string
	for _, b := range f.backends {
		if b.Name == "v2-a" {
			b.SetStatus(http.StatusServiceUnavailable)
			down = b.Addr()
		}
	}
	send(40)
	ejected := fmt.Sprintf(`[...document.querySelectorAll('#clusters .endpoint[data-health="EJECTED"]')].some(e => e.textContent.startsWith(%q))`, down+" ")
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](ejected, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page does not show %s ejected: %v; clusters: %+v", down, err, f.gateway.Clusters())
	}
	var meta string
	if meta, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.cluster[data-cluster="`+v2+`"]').textContent`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta, "1 ejected now") {
		t.Errorf("v2 cluster card does not count the ejection: %q", meta)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("MESHGATE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "live-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))

	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged problems:\n%s", strings.Join(p, "\n"))
	}
}
