package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshgate/meshgate/internal/testpki"
	"github.com/meshgate/meshgate/internal/translate"
)

// edge is a running gateway with two servers: a plain-text port, which
// speaks HTTP/1.1 and prior-knowledge h2c, and a SIMPLE TLS port for
// *.example.com, which negotiates h2 or http/1.1 by ALPN.
type edge struct {
	plain, tls string // local addresses of ports 80 and 443
	roots      *x509.CertPool
}

// edgeGateway is the Gateway and its certificate Secret; %d are the local
// ports Service istio-ingressgateway maps 80 and 443 to, %s the base64
// certificate and key.
const edgeGateway = `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: %d}
  - {name: https, port: 443, targetPort: %d}
---
apiVersion: v1
kind: Secret
metadata: {name: edge-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*"]
  - port: {number: 443, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: edge-cert}
`

// startEdge starts the gateway from a configuration directory holding
// edgeGateway and routes (the test's VirtualServices and backends), and
// waits until it serves them.
func startEdge(t *testing.T, routes string) *edge {
	t.Helper()
	return startEdgeAs(t, routes, translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}, Namespace: "istio-system"})
}

// startEdgeAs is startEdge for a gateway with the given identity.
func startEdgeAs(t *testing.T, routes string, id translate.Identity) *edge {
	t.Helper()
	ca := testpki.NewCA(t, "edge-ca")
	leaf := ca.Server(t, "*.example.com")
	plain, secure := freePort(t), freePort(t)
	dir := t.TempDir()
	b64 := base64.StdEncoding.EncodeToString
	writeFile(t, filepath.Join(dir, "gateway.yaml"),
		fmt.Sprintf(edgeGateway, plain, secure, b64(leaf.CertPEM), b64(leaf.KeyPEM)))
	writeFile(t, filepath.Join(dir, "routes.yaml"), routes)

	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{dir},
		Identity:    id,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Shutdown(); gw.Wait() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; diagnostics: %v; publish error: %s", err, gw.Diagnostics(), gw.Status().PublishError)
	}
	// A configuration mistake in the test would otherwise show up as a
	// confusing 404 or connection refusal much later.
	if errs := gw.Diagnostics().Errors(); len(errs) > 0 {
		t.Fatalf("configuration has errors:\n%s", errs.Error())
	}
	return &edge{
		plain: fmt.Sprintf("127.0.0.1:%d", plain),
		tls:   fmt.Sprintf("127.0.0.1:%d", secure),
		roots: ca.Pool(),
	}
}

const grpcHost = "grpc.example.com"

// grpcRoutes routes grpcHost to a Service whose port is named grpc, which
// makes the gateway speak h2c to its endpoint at backend.
func grpcRoutes(backend string) string {
	_, port, _ := net.SplitHostPort(backend)
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: grpc-backend, namespace: default}
spec:
  selector: {app: grpc-backend}
  ports:
  - {name: grpc, port: 9000}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: grpc-backend-1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {grpc: %s}
  labels: {app: grpc-backend}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: default}
spec:
  hosts: [%s]
  gateways: [istio-system/edge]
  http:
  - route: [{destination: {host: grpc-backend.default.svc.cluster.local, port: {number: 9000}}}]
`, port, grpcHost)
}

// grpcBackend is grpc-go's interop TestService, implemented so that each
// call shows what crossed the gateway:
//   - every call answers with header "seen-x-forwarded-proto", the scheme
//     the gateway says the client used, which proves the call went through
//     the gateway and on which port;
//   - a ResponseStatus in the request is returned as that status before
//     any message (a trailers-only response), or after the requested
//     messages on a server stream (a status in real trailers);
//   - a unary payload "hang" blocks until the call is cancelled and then
//     reports the cancellation on ended.
type grpcBackend struct {
	testgrpc.UnimplementedTestServiceServer
	addr  string
	ended chan error
}

func startGRPCBackend(t *testing.T) *grpcBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &grpcBackend{addr: ln.Addr().String(), ended: make(chan error, 8)}
	// Without TLS a grpc-go server speaks h2c only: anything the gateway
	// sends it must be prior-knowledge HTTP/2.
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return b
}

func seenProto(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	return grpc.SetHeader(ctx, metadata.Pairs("seen-x-forwarded-proto", firstValue(md.Get("x-forwarded-proto"))))
}

func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func echoStatus(s *testgrpc.EchoStatus) error {
	if s == nil {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

func (b *grpcBackend) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	// The status goes first: header metadata would make grpc-go send a
	// HEADERS frame before the status instead of a trailers-only response.
	if err := echoStatus(req.ResponseStatus); err != nil {
		return nil, err
	}
	if err := seenProto(ctx); err != nil {
		return nil, err
	}
	if string(req.GetPayload().GetBody()) == "hang" {
		select {
		case <-ctx.Done():
			b.ended <- ctx.Err()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The gateway enforces the same grpc-timeout; answering
				// at once would race its reply, which is what the
				// tests check.
				time.Sleep(time.Second)
			}
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			b.ended <- errors.New("never cancelled")
			return nil, status.Error(codes.Internal, "never cancelled")
		}
	}
	// A trailer proves trailers survive the gateway on a successful call.
	if err := grpc.SetTrailer(ctx, metadata.Pairs("body-length", strconv.Itoa(len(req.GetPayload().GetBody())))); err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: req.Payload}, nil
}

func (b *grpcBackend) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	if len(req.ResponseParameters) == 0 {
		// Trailers-only when a status is asked for (see UnaryCall).
		if err := echoStatus(req.ResponseStatus); err != nil {
			return err
		}
	}
	if err := seenProto(stream.Context()); err != nil {
		return err
	}
	for i := range req.ResponseParameters {
		body := []byte(strconv.Itoa(i))
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
	}
	return echoStatus(req.ResponseStatus)
}

func (b *grpcBackend) StreamingInputCall(stream grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	if err := seenProto(stream.Context()); err != nil {
		return err
	}
	var size int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: size})
		}
		if err != nil {
			return err
		}
		size += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall answers each request as soon as it arrives.
func (b *grpcBackend) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	if err := seenProto(stream.Context()); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: req.Payload}); err != nil {
			return err
		}
	}
}

// callContext bounds a call that should succeed, so that a gateway that
// stalls a stream fails the test instead of hanging it.
func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func grpcPayload(s string) *testgrpc.Payload { return &testgrpc.Payload{Body: []byte(s)} }

// wantStatus checks the status a client got.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || s.Code() != code || s.Message() != msg {
		t.Fatalf("got %v, want status %s %q", err, code, msg)
	}
}

// grpcCall is one scenario, run on every transport; proto is the scheme
// the backend should see in X-Forwarded-Proto.
type grpcCall struct {
	name string
	run  func(t *testing.T, c testgrpc.TestServiceClient, b *grpcBackend, proto string)
}

// notFoundMsg needs percent-encoding in grpc-message ('%', non-ASCII),
// which the gateway must relay as the backend encoded it.
const notFoundMsg = "widget 42: 100% gone, ¿dónde?"

var grpcCalls = []grpcCall{
	{"unary", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, proto string) {
		var header, trailer metadata.MD
		resp, err := c.UnaryCall(callContext(t), &testgrpc.SimpleRequest{Payload: grpcPayload("ping")},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.GetPayload().GetBody()); got != "ping" {
			t.Errorf("payload %q, want ping", got)
		}
		if got := firstValue(header.Get("seen-x-forwarded-proto")); got != proto {
			t.Errorf("backend saw X-Forwarded-Proto %q, want %q", got, proto)
		}
		if got := firstValue(trailer.Get("body-length")); got != "4" {
			t.Errorf("trailer body-length = %q, want 4 (trailers lost?)", got)
		}
	}},
	{"server streaming", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		const n = 50
		req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: make([]*testgrpc.ResponseParameters, n)}
		for i := range req.ResponseParameters {
			req.ResponseParameters[i] = &testgrpc.ResponseParameters{}
		}
		stream, err := c.StreamingOutputCall(callContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			resp, err := stream.Recv()
			if err == io.EOF {
				if i != n {
					t.Fatalf("stream ended after %d messages, want %d", i, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got, want := string(resp.GetPayload().GetBody()), strconv.Itoa(i); got != want {
				t.Fatalf("message %d carries %q: out of order", i, got)
			}
		}
	}},
	{"client streaming", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		stream, err := c.StreamingInputCall(callContext(t))
		if err != nil {
			t.Fatal(err)
		}
		var want int32
		for _, size := range []int{1, 100, 1 << 10, 64 << 10, 256 << 10, 3} {
			want += int32(size)
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, size)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.AggregatedPayloadSize != want {
			t.Errorf("backend received %d bytes, want %d", resp.AggregatedPayloadSize, want)
		}
	}},
	{"bidi ping-pong", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		// Each request is sent only after the previous reply came back: a
		// gateway that buffered either direction (waiting for more data or
		// the end of the stream) would stall here until the call's bound.
		stream, err := c.FullDuplexCall(callContext(t))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			msg := fmt.Sprintf("ping %d", i)
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: grpcPayload(msg)}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("reply to %q: %v (a stall here means the request or reply was held back)", msg, err)
			}
			if got := string(resp.GetPayload().GetBody()); got != msg {
				t.Fatalf("reply %q, want %q", got, msg)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("after CloseSend: %v, want the stream to end with OK", err)
		}
	}},
	{"deadline exceeded", func(t *testing.T, c testgrpc.TestServiceClient, b *grpcBackend, _ string) {
		const deadline = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		start := time.Now()
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: grpcPayload("hang")})
		elapsed := time.Since(start)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if elapsed > deadline+2*time.Second {
			t.Errorf("the call took %v with a %v deadline", elapsed, deadline)
		}
		// The backend must not be left working for a client that has gone:
		// the gateway passes on the cancellation (or the grpc-timeout).
		select {
		case err := <-b.ended:
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("backend call ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the backend's call was not cancelled within 5s of the client's deadline")
		}
	}},
	{"trailers-only status", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		_, err := c.UnaryCall(callContext(t), &testgrpc.SimpleRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: notFoundMsg},
		})
		wantStatus(t, err, codes.NotFound, notFoundMsg)
	}},
	{"trailers-only status on a stream", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		stream, err := c.StreamingOutputCall(callContext(t), &testgrpc.StreamingOutputCallRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: "x"},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		wantStatus(t, err, codes.NotFound, "x")
	}},
	{"status in trailers after messages", func(t *testing.T, c testgrpc.TestServiceClient, _ *grpcBackend, _ string) {
		stream, err := c.StreamingOutputCall(callContext(t), &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{}, {}},
			ResponseStatus:     &testgrpc.EchoStatus{Code: int32(codes.ResourceExhausted), Message: "quota"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		_, err = stream.Recv()
		wantStatus(t, err, codes.ResourceExhausted, "quota")
	}},
}

// TestGRPCThroughGateway runs grpc-go calls of every kind through the
// gateway to an h2c backend, from a client speaking h2c to the plain-text
// port and from one speaking h2 over TLS to the HTTPS port.
func TestGRPCThroughGateway(t *testing.T) {
	backend := startGRPCBackend(t)
	e := startEdge(t, grpcRoutes(backend.addr))

	transports := []struct {
		name  string
		addr  string
		creds credentials.TransportCredentials
		proto string
	}{
		{"h2c", e.plain, insecure.NewCredentials(), "http"},
		{"tls", e.tls, credentials.NewTLS(&tls.Config{RootCAs: e.roots, ServerName: grpcHost}), "https"},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			// The authority picks the route, as a client using DNS for
			// grpc.example.com would send it.
			conn, err := grpc.NewClient("passthrough:///"+tr.addr,
				grpc.WithTransportCredentials(tr.creds), grpc.WithAuthority(grpcHost))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			client := testgrpc.NewTestServiceClient(conn)
			for _, call := range grpcCalls {
				t.Run(call.name, func(t *testing.T) {
					call.run(t, client, backend, tr.proto)
				})
			}
		})
	}
}
