package explain

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// TestPickMatchesDataPlane sends requests through the real data plane to
// a ring-hash cluster of three backends and checks that each lands on the
// endpoint Explain predicts.
func TestPickMatchesDataPlane(t *testing.T) {
	var ports [3]string
	for i := range ports {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
		}))
		defer b.Close()
		_, ports[i], _ = net.SplitHostPort(b.Listener.Addr().String())
	}
	cfg := `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: sticky, namespace: default}
spec:
  hosts: [sticky.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: ` + ports[0] + `}}
  - {address: 127.0.0.1, ports: {http: ` + ports[1] + `}}
  - {address: 127.0.0.1, ports: {http: ` + ports[2] + `}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky, namespace: default}
spec:
  host: sticky.internal
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sticky, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: sticky.internal}}]}]
`
	var b resource.Bundle
	if d := resource.DecodeFile("cfg.yaml", []byte(cfg), &b); d.HasErrors() {
		t.Fatal(d.Error())
	}
	snap, _ := translate.Build(&b, translate.Identity{})
	srv := dataplane.New(dataplane.Options{})
	defer srv.Close()
	srv.Apply(snap)
	front := httptest.NewServer(srv.Handler(dataplane.SocketAddress(snap.Listeners[0])))
	defer front.Close()

	hit := map[string]bool{}
	for _, user := range []string{"ann", "bob", "cem", "dee", "eve", "fay", "gus", "hal", "ida", "jo"} {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Header.Set("x-user", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := Explain(snap, Input{Request: newRequest(t, "GET", "http://any/", "x-user: "+user), Port: 80}).Split[0].Balance.Pick
		if string(got) != want {
			t.Errorf("user %s: the data plane sent it to %s, Explain says %s", user, got, want)
		}
		hit[want] = true
	}
	if len(hit) < 2 {
		t.Errorf("all users on %v; the test proves little", hit)
	}
}
