//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
)

// TestBinaryRestartAndSIGTERM runs the meshgate binary the way an
// operator restarts it on a VM behind a load balancer: a second process
// started with the same --handover-socket takes the listening sockets
// over and the first one drains and exits by itself, under continuous
// load from 50 clients, without a failed request or a failed readiness
// probe. Then SIGTERM stops the second process: readiness fails at once
// (503 DRAINING), the port keeps accepting during --drain-delay with
// "Connection: close" on every response, and the process exits 0.
func TestBinaryRestartAndSIGTERM(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "meshgate")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	backend, err := echo.Start("web-1", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	port, status := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "config")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(conf, "gateway.yaml"), port, backend.Addr())
	args := []string{"serve", "--config", conf, "--admin", "", "--status", status, "--access-log", "off",
		"--handover-socket", filepath.Join(dir, "handover.sock"), "--drain-delay", "500ms"}
	url := "http://" + port + "/"

	first := startProcess(t, bin, args)
	waitReady(t, status)
	load := startClients(url, 50)
	probes := startProbes(status)
	time.Sleep(300 * time.Millisecond)

	second := startProcess(t, bin, args)
	select {
	case err := <-first.done:
		if err != nil {
			t.Fatalf("the first process exited with %v:\n%s", err, first.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the first process did not leave after the hand-over:\n%s", first.log.String())
	}
	served := load.ok.Load()
	time.Sleep(300 * time.Millisecond)
	load.stop()
	probes.stop()
	if n := load.failed.Load(); n > 0 {
		t.Fatalf("%d requests failed during the restart, e.g. %v\nfirst:\n%s\nsecond:\n%s", n, load.firstErr.Load(),
			first.log.String(), second.log.String())
	}
	if load.ok.Load() == served {
		t.Fatal("the second process served nothing")
	}
	if n := probes.failed.Load(); n > 0 {
		t.Errorf("%d readiness probes failed during the restart, e.g. %v", n, probes.firstErr.Load())
	}
	t.Logf("restart: %d requests, none failed; %d readiness probes, all 200", load.ok.Load(), probes.ok.Load())

	// SIGTERM with drain.
	keep := &http.Client{Transport: &http.Transport{}}
	get(t, keep, url)
	began := time.Now()
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		code, body := probe(status)
		if code == 503 && strings.HasPrefix(body, "DRAINING") {
			break
		}
		if time.Since(began) > 300*time.Millisecond {
			t.Fatalf("readiness still %d %q %v after SIGTERM", code, body, time.Since(began))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("readiness failed %v after SIGTERM", time.Since(began).Round(time.Millisecond))
	for _, c := range []*http.Client{keep, {Transport: &http.Transport{}}} {
		if resp := get(t, c, url); !resp.Close {
			t.Error("a response during the drain does not carry Connection: close")
		}
	}
	select {
	case err := <-second.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, second.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the second process did not exit after SIGTERM")
	}
	if d := time.Since(began); d < 500*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before the 500ms drain delay", d)
	}
}

type process struct {
	cmd *exec.Cmd
	log *syncBuffer
	// done receives the exit error once.
	done   chan error
	exited chan struct{}
}

func startProcess(t *testing.T, bin string, args []string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), log: &syncBuffer{}, done: make(chan error, 1), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.done <- p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func writeConfig(t *testing.T, path, gatewayAddr, backendAddr string) {
	t.Helper()
	_, gport, _ := net.SplitHostPort(gatewayAddr)
	_, bport, _ := net.SplitHostPort(backendAddr)
	config := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http, port: 80, targetPort: %s}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, bind: 127.0.0.1, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [web.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: %s}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: web.internal, port: {number: 80}}}]}]
`, gport, bport)
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// probe fetches readiness on a new connection, as a load balancer does.
func probe(status string) (int, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + status + "/healthz/ready")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReady(t *testing.T, status string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := probe(status); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not become ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// counter runs a loop in goroutines until stopped, counting outcomes.
type counter struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	halt       atomic.Bool
	wg         sync.WaitGroup
}

func (c *counter) record(err error) {
	if err == nil {
		c.ok.Add(1)
		return
	}
	c.failed.Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

func (c *counter) stop() {
	c.halt.Store(true)
	c.wg.Wait()
}

// startClients sends GETs continuously from n keep-alive clients.
func startClients(url string, n int) *counter {
	c := &counter{}
	for range n {
		c.wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			for !c.halt.Load() {
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				c.record(err)
			}
		})
	}
	return c
}

// startProbes checks readiness every 5ms.
func startProbes(status string) *counter {
	c := &counter{}
	c.wg.Go(func() {
		for !c.halt.Load() {
			var err error
			if code, body := probe(status); code != 200 {
				err = fmt.Errorf("%d %s", code, strings.TrimSpace(body))
			}
			c.record(err)
			time.Sleep(5 * time.Millisecond)
		}
	})
	return c
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
