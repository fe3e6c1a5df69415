package dataplane

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// TestGRPCWebThroughTheDataPlane: the data plane's handler bridges
// gRPC-Web, its local replies to a gRPC-Web request keep their HTTP code
// (in the access log too), and a -text body that is not base64 is the
// client's failure, not the upstream's.
func TestGRPCWebThroughTheDataPlane(t *testing.T) {
	live := startEcho(t, "a")
	snap := oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, live))
	snap.Listeners[0].VirtualHosts = append(snap.Listeners[0].VirtualHosts, &snapshot.VirtualHost{
		Name: "empty.example.com", Domains: []string{"empty.example.com"}, Routes: []*snapshot.Route{routeTo("none")},
	})
	snap.Clusters = append(snap.Clusters, cluster("none", snapshot.LBRoundRobin))
	// A GRPC-WEB server converts whatever the backend speaks.
	snap.Listeners[0].Protocol = snapshot.ProtocolGRPCWeb
	ts, logs := serveSnapshot(t, snap)

	tests := []struct {
		name       string
		host, ct   string
		body       string
		status     int
		grpcStatus string
		grpcMsg    string
		logCode    float64
		logFlags   string
	}{
		{
			name: "no healthy upstream", host: "empty.example.com", ct: "application/grpc-web+proto", body: "\x00\x00\x00\x00\x00",
			status: 503, grpcStatus: "14", grpcMsg: "no healthy upstream", logCode: 503, logFlags: "UH",
		},
		{
			name: "invalid base64", host: "example.com", ct: "application/grpc-web-text", body: "AAAA!!!!",
			// DC, one attempt: not UC, which would count against the
			// upstream in outlier detection.
			status: 400, grpcStatus: "13", grpcMsg: "Bad gRPC-web request, invalid base64 data.", logFlags: "DC",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/s.Svc/M", strings.NewReader(tt.body))
			req.Host = tt.host
			req.Header.Set("Content-Type", tt.ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Grpc-Status") != tt.grpcStatus || resp.Header.Get("Grpc-Message") != tt.grpcMsg {
				t.Errorf("got %d grpc-status %q grpc-message %q; want %d %q %q", resp.StatusCode,
					resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message"), tt.status, tt.grpcStatus, tt.grpcMsg)
			}
			lines := logs.waitLines(t, i+1)
			if len(lines) != i+1 {
				t.Fatalf("%d access-log lines, want %d", len(lines), i+1)
			}
			l := lines[i]
			if l["response_flags"] != tt.logFlags || (tt.logCode != 0 && l["response_code"] != tt.logCode) {
				t.Errorf("access log code %v flags %v; want %v %q", l["response_code"], l["response_flags"], tt.logCode, tt.logFlags)
			}
		})
	}
}

// TestGRPCWebPassesThroughToHTTP1Backends: on an HTTP server, a gRPC-Web
// request routed to a backend that speaks HTTP/1.1 reaches it as sent (it
// can only be a gRPC-Web server). Conversion for HTTP/2 backends is shown
// end to end with a gRPC server in internal/app.
func TestGRPCWebPassesThroughToHTTP1Backends(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol snapshot.UpstreamProtocol
		wantCT   string
	}{
		{"HTTP/1.1 backend", snapshot.UpstreamHTTP1, "application/grpc-web+proto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := startEcho(t, "a")
			c := cluster("c", snapshot.LBRoundRobin, live)
			c.UpstreamProtocol = tc.protocol
			ts, _ := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), c))
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/s.Svc/M", strings.NewReader("\x00\x00\x00\x00\x00"))
			req.Host = "example.com"
			req.Header.Set("Content-Type", "application/grpc-web+proto")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "header Content-Type=" + tc.wantCT + "\n"; !strings.Contains(string(body), want) {
				t.Errorf("the backend saw:\n%s\nwant %q", body, want)
			}
		})
	}
}
