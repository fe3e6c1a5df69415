package admin

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

const viewsConfig = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 9443, name: tls, protocol: TLS}, hosts: [db.example.com], tls: {mode: PASSTHROUGH}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, labels: {version: v1}}
  - {address: 127.0.0.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo.example.com
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
  - name: beta
    match: [{uri: {prefix: /api}, headers: {x-user: {exact: alice}}}]
    route: [{destination: {host: echo.example.com, subset: v2, port: {number: 80}}}]
  - route:
    - {destination: {host: echo.example.com, subset: v1, port: {number: 80}}, weight: 80}
    - {destination: {host: echo.example.com, subset: v2, port: {number: 80}}, weight: 20}
    retries: {attempts: 3}
    timeout: 2s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  gateways: [istio-system/gw]
  tls:
  - match: [{port: 9443, sniHosts: [db.example.com]}]
    route: [{destination: {host: echo.example.com, port: {number: 443}}}]
`

// startAdmin serves the admin API for snap on a real 127.0.0.1 socket.
func startAdmin(t *testing.T, cfg string) string {
	t.Helper()
	var b resource.Bundle
	if diags := resource.DecodeFile("cfg.yaml", []byte(cfg), &b); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap, diags := translate.Build(&b, translate.Identity{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	srv := dataplane.New(dataplane.Options{})
	t.Cleanup(srv.Close)
	srv.Apply(snap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: Handler(&testGateway{srv: srv, snap: snap}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

func getBody(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestRoutesView(t *testing.T) {
	base := startAdmin(t, viewsConfig)
	code, ctype, body := getBody(t, base+"/routes")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("/routes: %d %s", code, ctype)
	}
	var tables []routeTable
	if err := json.Unmarshal([]byte(body), &tables); err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Listener != "0.0.0.0_8080" || len(tables[0].VirtualHosts) != 1 {
		t.Fatalf("route tables:\n%s", body)
	}
	routes := tables[0].VirtualHosts[0].Routes
	if len(routes) != 2 {
		t.Fatalf("routes:\n%s", body)
	}
	beta, split := routes[0], routes[1]
	if beta.Name != "beta" || len(beta.Match) != 1 || beta.Match[0] != "uri prefix /api and header x-user exact alice" {
		t.Errorf("first route %+v", beta)
	}
	if len(beta.Destinations) != 1 || beta.Destinations[0].Cluster != "outbound|80|v2|echo.example.com" || beta.Destinations[0].Percent != 100 {
		t.Errorf("first route destinations %+v", beta.Destinations)
	}
	want := []destinationView{
		{Cluster: "outbound|80|v1|echo.example.com", Weight: 80, Percent: 80},
		{Cluster: "outbound|80|v2|echo.example.com", Weight: 20, Percent: 20},
	}
	if len(split.Destinations) != 2 || split.Destinations[0] != want[0] || split.Destinations[1] != want[1] {
		t.Errorf("weighted route destinations %+v, want %+v", split.Destinations, want)
	}
	if split.Match != nil || split.Retries != 3 || split.Timeout != "2s" || split.VirtualService != "default/echo" {
		t.Errorf("weighted route %+v", split)
	}
	// Readable: indented, one field a line.
	if !strings.Contains(body, "\n  {\n    \"listener\": \"0.0.0.0_8080\"") {
		t.Errorf("/routes is not indented JSON:\n%.300s", body)
	}
}

func TestListenersView(t *testing.T) {
	base := startAdmin(t, viewsConfig)
	code, _, body := getBody(t, base+"/listeners")
	if code != 200 {
		t.Fatalf("/listeners: %d", code)
	}
	var ls []listenerView
	if err := json.Unmarshal([]byte(body), &ls); err != nil {
		t.Fatal(err)
	}
	byName := map[string]listenerView{}
	for _, l := range ls {
		byName[l.Name] = l
	}
	h, tlsL := byName["0.0.0.0_8080"], byName["0.0.0.0_9443"]
	if h.Address != "0.0.0.0:8080" || h.Protocol != "HTTP" || len(h.VirtualHosts) != 1 || h.VirtualHosts[0].Routes != 2 {
		t.Errorf("HTTP listener %+v", h)
	}
	if tlsL.Protocol != "TLS" || len(tlsL.FilterChains) != 1 {
		t.Fatalf("TLS listener %+v\n%s", tlsL, body)
	}
	fc := tlsL.FilterChains[0]
	if fc.TLS != "PASSTHROUGH" || len(fc.ServerNames) != 1 || fc.ServerNames[0] != "db.example.com" ||
		len(fc.Routes) != 1 || fc.Routes[0].Destinations[0].Cluster != "outbound|443||echo.example.com" {
		t.Errorf("passthrough chain %+v", fc)
	}
}

// Before the first configuration there is nothing to show, and the
// views say so rather than showing an empty gateway.
func TestViewsBeforeConfiguration(t *testing.T) {
	srv := dataplane.New(dataplane.Options{})
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: Handler(&nilGateway{testGateway{srv: srv, snap: &snapshot.Snapshot{}}}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	for _, p := range []string{"/listeners", "/routes"} {
		if code, _, body := getBody(t, "http://"+ln.Addr().String()+p); code != 503 || !strings.Contains(body, "no configuration") {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

type nilGateway struct{ testGateway }

func (*nilGateway) Snapshot() *snapshot.Snapshot { return nil }

func TestPprof(t *testing.T) {
	base := startAdmin(t, viewsConfig)
	tests := []struct {
		path, want string
	}{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
		{"/debug/pprof/cmdline", ""},
		{"/debug/pprof/heap?debug=1", "heap profile:"},
	}
	for _, tc := range tests {
		code, _, body := getBody(t, base+tc.path)
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %.200q", tc.path, code, body)
		}
	}
	// The status port, which load balancers reach, has no profiler.
	rec := StatusHandler(&testGateway{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	if code, _, _ := getBody(t, "http://"+ln.Addr().String()+"/debug/pprof/"); code != 404 {
		t.Errorf("status port /debug/pprof/: %d, want 404", code)
	}
}
