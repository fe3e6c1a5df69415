package app

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

const wsHost = "ws.example.com"

// wsRoutes routes wsHost to a plain HTTP/1.1 backend at addr.
func wsRoutes(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: ws-backend, namespace: default}
spec:
  selector: {app: ws-backend}
  ports:
  - {name: http, port: 80}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ws-backend-1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: %s}
  labels: {app: ws-backend}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ws, namespace: default}
spec:
  hosts: [%s]
  gateways: [istio-system/edge]
  http:
  - route: [{destination: {host: ws-backend.default.svc.cluster.local, port: {number: 80}}}]
`, port, wsHost)
}

// wsFrame is a WebSocket message with its type (text or binary), which the
// default codecs lose.
type wsFrame struct {
	typ  byte
	data []byte
}

var frameCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		f := v.(wsFrame)
		return f.data, f.typ, nil
	},
	Unmarshal: func(data []byte, typ byte, v any) error {
		*v.(*wsFrame) = wsFrame{typ, data}
		return nil
	},
}

// wsBackend greets each connection with "hello <X-Forwarded-Proto>" (data
// the server sends unprompted) and then echoes every message with its
// type. It counts upgrades and reports when a connection's handler ends.
type wsBackend struct {
	addr     string
	upgrades atomic.Int32
	ended    chan struct{}
}

func startWSBackend(t *testing.T) *wsBackend {
	t.Helper()
	b := &wsBackend{ended: make(chan struct{}, 8)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	srv := &http.Server{Handler: websocket.Handler(func(ws *websocket.Conn) {
		defer func() { b.ended <- struct{}{} }()
		b.upgrades.Add(1)
		hello := wsFrame{websocket.TextFrame, []byte("hello " + ws.Request().Header.Get("X-Forwarded-Proto"))}
		if frameCodec.Send(ws, hello) != nil {
			return
		}
		for {
			var f wsFrame
			if frameCodec.Receive(ws, &f) != nil {
				return
			}
			if frameCodec.Send(ws, f) != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return b
}

// TestWebSocketThroughGateway upgrades an HTTP/1.1 connection through the
// gateway, on the plain-text port and on the TLS port, and exchanges
// messages of both types and several sizes over the one connection.
func TestWebSocketThroughGateway(t *testing.T) {
	backend := startWSBackend(t)
	e := startEdge(t, wsRoutes(backend.addr))

	for _, tt := range []struct {
		name, scheme, addr string
		tls                bool
	}{
		{"ws", "ws", e.plain, false},
		{"wss", "wss", e.tls, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			upgradesBefore := backend.upgrades.Load()
			conn, err := net.DialTimeout("tcp", tt.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			proto := "http"
			if tt.tls {
				// A WebSocket handshake is HTTP/1.1 (RFC 6455); offering
				// only http/1.1 is what browsers do for wss.
				conn = tls.Client(conn, &tls.Config{ServerName: wsHost, RootCAs: e.roots, NextProtos: []string{"http/1.1"}})
				proto = "https"
			}
			defer conn.Close()
			// Nothing below may block forever on a gateway that stalls.
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			cfg, err := websocket.NewConfig(tt.scheme+"://"+wsHost+"/chat", "https://app.example.com")
			if err != nil {
				t.Fatal(err)
			}
			ws, err := websocket.NewClient(cfg, conn)
			if err != nil {
				t.Fatalf("upgrade through the gateway: %v", err)
			}

			var hello wsFrame
			if err := frameCodec.Receive(ws, &hello); err != nil {
				t.Fatalf("greeting: %v", err)
			}
			if got, want := string(hello.data), "hello "+proto; got != want {
				t.Errorf("greeting %q, want %q", got, want)
			}

			messages := []wsFrame{
				{websocket.TextFrame, []byte("one")},
				{websocket.BinaryFrame, []byte{0, 1, 2, 0xff}},
				{websocket.TextFrame, []byte("three")},
				// Larger than any single read or write buffer on the way.
				{websocket.BinaryFrame, bytes.Repeat([]byte("0123456789abcdef"), 64<<10)},
				{websocket.TextFrame, []byte("five")},
			}
			for i, m := range messages {
				if err := frameCodec.Send(ws, m); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				var got wsFrame
				if err := frameCodec.Receive(ws, &got); err != nil {
					t.Fatalf("echo of message %d: %v", i, err)
				}
				if got.typ != m.typ || !bytes.Equal(got.data, m.data) {
					t.Fatalf("message %d: echo is type %d, %d bytes; want type %d, %d bytes", i, got.typ, len(got.data), m.typ, len(m.data))
				}
			}
			// One upgrade carried every message: the gateway kept the
			// connection open rather than serving each message anew.
			if n := backend.upgrades.Load() - upgradesBefore; n != 1 {
				t.Errorf("backend saw %d upgrades, want 1", n)
			}

			// Closing the client's side must close the backend's, so that
			// neither the gateway nor the backend keeps a dead tunnel.
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-backend.ended:
			case <-time.After(5 * time.Second):
				t.Error("the backend's connection was still open 5s after the client closed")
			}
		})
	}
}
