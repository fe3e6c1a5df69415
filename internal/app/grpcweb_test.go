package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/internal/dataplane/grpcweb"
)

// webClient is a gRPC-Web client as a browser library is one: plain
// HTTP/1.1 requests carrying length-prefixed protobuf frames, the status
// read from the trailer frame at the end of the body (or from the
// headers of a trailers-only response).
type webClient struct {
	t    *testing.T
	addr string
	host string
	// text selects application/grpc-web-text: base64 bodies both ways.
	text bool
	// header is added to every request.
	header http.Header
	// h2 is set for HTTPS with HTTP/2, unset for plain HTTP/1.1.
	h2   bool
	http *http.Client
}

func newWebClient(t *testing.T, addr string, text bool) *webClient {
	tr := &http.Transport{} // no TLS, no h2c: HTTP/1.1
	t.Cleanup(tr.CloseIdleConnections)
	return &webClient{t: t, addr: addr, host: grpcHost, text: text, http: &http.Client{Transport: tr}}
}

// newWebClientH2 is a browser on HTTPS: HTTP/2 negotiated by ALPN.
func newWebClientH2(t *testing.T, e *edge, text bool) *webClient {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.roots, ServerName: grpcHost},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &webClient{t: t, addr: e.tls, host: grpcHost, text: text, h2: true, http: &http.Client{Transport: tr}}
}

// webReply is what one call got.
type webReply struct {
	status   int
	header   http.Header
	messages [][]byte
	// trailers is the trailer frame's block; nil without a trailer frame.
	trailers map[string]string
	// frameAfterTrailers is set when anything followed the trailer frame.
	frameAfterTrailers bool
}

// grpcStatus is the call's status: from the trailer frame, else from the
// headers (trailers-only).
func (r *webReply) grpcStatus() (code, msg string) {
	if r.trailers != nil {
		return r.trailers["grpc-status"], r.trailers["grpc-message"]
	}
	return r.header.Get("Grpc-Status"), r.header.Get("Grpc-Message")
}

func (c *webClient) call(method string, req proto.Message) *webReply {
	c.t.Helper()
	msg, err := proto.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	body := frame
	ct := "application/grpc-web+proto"
	if c.text {
		// Two padded chunks, as a client that flushed after the frame
		// header sends them.
		enc := base64.StdEncoding
		body = []byte(enc.EncodeToString(frame[:5]) + enc.EncodeToString(frame[5:]))
		ct = "application/grpc-web-text"
	}
	return c.post(method, ct, body)
}

func (c *webClient) post(method, contentType string, body []byte) *webReply {
	c.t.Helper()
	scheme := "http://"
	if c.h2 {
		scheme = "https://"
	}
	hreq, err := http.NewRequestWithContext(callContext(c.t), http.MethodPost,
		scheme+c.addr+"/grpc.testing.TestService/"+method, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	hreq.Host = c.host
	hreq.Header.Set("Content-Type", contentType)
	if c.text {
		hreq.Header.Set("Accept", "application/grpc-web-text")
	}
	for k, vs := range c.header {
		hreq.Header[k] = vs
	}
	hreq.Header.Set("X-Grpc-Web", "1")
	hreq.Header.Set("X-User-Agent", "grpc-web-javascript/0.1")
	resp, err := c.http.Do(hreq)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if wantMajor := map[bool]int{false: 1, true: 2}[c.h2]; resp.ProtoMajor != wantMajor {
		c.t.Fatalf("response over %s, want HTTP/%d", resp.Proto, wantMajor)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.text {
		var d grpcweb.TextDecoder
		if raw, err = d.Decode(nil, raw); err == nil {
			err = d.Close()
		}
		if err != nil {
			c.t.Fatalf("response body is not base64: %v", err)
		}
	}
	r := &webReply{status: resp.StatusCode, header: resp.Header}
	for len(raw) > 0 {
		if len(raw) < 5 || uint64(len(raw)-5) < uint64(binary.BigEndian.Uint32(raw[1:5])) {
			c.t.Fatalf("truncated frame %q", raw)
		}
		n := int(binary.BigEndian.Uint32(raw[1:5]))
		flags, payload := raw[0], raw[5:5+n]
		raw = raw[5+n:]
		if r.trailers != nil {
			r.frameAfterTrailers = true
		}
		if flags&0x80 == 0 {
			r.messages = append(r.messages, payload)
			continue
		}
		r.trailers = map[string]string{}
		for _, line := range strings.Split(string(payload), "\r\n") {
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || k != strings.ToLower(k) {
				c.t.Fatalf("trailer line %q: want lower-case name:value", line)
			}
			r.trailers[k] = v
		}
	}
	return r
}

// wantWebStatus checks a call's status, and that its response had the
// gRPC-Web form.
func (c *webClient) wantWebStatus(r *webReply, code codes.Code, msg string) {
	c.t.Helper()
	wantCT := "application/grpc-web+proto"
	if c.text {
		wantCT = "application/grpc-web-text+proto"
	}
	if got := r.header.Get("Content-Type"); got != wantCT {
		c.t.Errorf("Content-Type %q, want %q", got, wantCT)
	}
	gotCode, gotMsg := r.grpcStatus()
	if m, err := url.PathUnescape(gotMsg); err == nil {
		gotMsg = m
	}
	if gotCode != strconv.Itoa(int(code)) || gotMsg != msg {
		c.t.Errorf("grpc-status %q grpc-message %q, want %d (%s) %q", gotCode, gotMsg, code, code, msg)
	}
	if r.frameAfterTrailers {
		c.t.Error("frames after the trailer frame")
	}
}

// noEndpointsHost routes to a gRPC Service that selects no endpoint.
const noEndpointsHost = "empty.example.com"

const noEndpointsRoutes = `---
apiVersion: v1
kind: Service
metadata: {name: no-endpoints, namespace: default}
spec:
  selector: {app: nothing}
  ports:
  - {name: grpc, port: 9000}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: no-endpoints, namespace: default}
spec:
  hosts: [` + noEndpointsHost + `]
  gateways: [istio-system/edge]
  http:
  - route: [{destination: {host: no-endpoints.default.svc.cluster.local, port: {number: 9000}}}]
`

// TestGRPCWebThroughGateway calls grpc-go's TestService through the
// gateway with a gRPC-Web client, over HTTP/1.1 to the plain-text port
// and over HTTP/2 to the HTTPS port, in binary and in base64 text form.
func TestGRPCWebThroughGateway(t *testing.T) {
	backend := startGRPCBackend(t)
	e := startEdge(t, grpcRoutes(backend.addr)+noEndpointsRoutes)

	clients := []struct {
		name string
		new  func(t *testing.T, text bool) *webClient
	}{
		{"http1", func(t *testing.T, text bool) *webClient { return newWebClient(t, e.plain, text) }},
		{"h2", func(t *testing.T, text bool) *webClient { return newWebClientH2(t, e, text) }},
	}
	for _, cl := range clients {
		for _, text := range []bool{false, true} {
			name := cl.name + "/" + map[bool]string{false: "grpc-web", true: "grpc-web-text"}[text]
			t.Run(name, func(t *testing.T) {
				c := cl.new(t, text)

				t.Run("unary", func(t *testing.T) {
					r := c.call("UnaryCall", &testgrpc.SimpleRequest{Payload: grpcPayload("ping")})
					if r.status != http.StatusOK {
						t.Fatalf("HTTP %d", r.status)
					}
					c.wantWebStatus(r, codes.OK, "")
					if len(r.messages) != 1 {
						t.Fatalf("%d messages, want 1", len(r.messages))
					}
					var resp testgrpc.SimpleResponse
					if err := proto.Unmarshal(r.messages[0], &resp); err != nil {
						t.Fatal(err)
					}
					if got := string(resp.GetPayload().GetBody()); got != "ping" {
						t.Errorf("payload %q, want ping", got)
					}
					// Custom trailers travel in the trailer frame, headers as
					// headers.
					if got := r.trailers["body-length"]; got != "4" {
						t.Errorf("trailer body-length %q, want 4 (trailers %v)", got, r.trailers)
					}
					if got, want := r.header.Get("Seen-X-Forwarded-Proto"), map[bool]string{false: "http", true: "https"}[c.h2]; got != want {
						t.Errorf("backend saw X-Forwarded-Proto %q, want %s", got, want)
					}
				})

				t.Run("server streaming", func(t *testing.T) {
					const n = 20
					req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: make([]*testgrpc.ResponseParameters, n)}
					for i := range req.ResponseParameters {
						req.ResponseParameters[i] = &testgrpc.ResponseParameters{}
					}
					r := c.call("StreamingOutputCall", req)
					c.wantWebStatus(r, codes.OK, "")
					if len(r.messages) != n {
						t.Fatalf("%d messages, want %d", len(r.messages), n)
					}
					for i, m := range r.messages {
						var resp testgrpc.StreamingOutputCallResponse
						if err := proto.Unmarshal(m, &resp); err != nil {
							t.Fatal(err)
						}
						if got, want := string(resp.GetPayload().GetBody()), strconv.Itoa(i); got != want {
							t.Fatalf("message %d carries %q: out of order", i, got)
						}
					}
				})

				t.Run("trailers-only error", func(t *testing.T) {
					// grpc-go answers trailers-only; as Envoy, the gateway keeps
					// the status in the headers and sends no trailer frame.
					r := c.call("UnaryCall", &testgrpc.SimpleRequest{
						ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: notFoundMsg},
					})
					if r.status != http.StatusOK {
						t.Errorf("HTTP %d, want 200", r.status)
					}
					if r.trailers != nil || len(r.messages) != 0 {
						t.Errorf("body: %d messages, trailer frame %v; want none", len(r.messages), r.trailers)
					}
					c.wantWebStatus(r, codes.NotFound, notFoundMsg)
				})

				t.Run("error after messages", func(t *testing.T) {
					r := c.call("StreamingOutputCall", &testgrpc.StreamingOutputCallRequest{
						ResponseParameters: []*testgrpc.ResponseParameters{{}, {}},
						ResponseStatus:     &testgrpc.EchoStatus{Code: int32(codes.ResourceExhausted), Message: "quota"},
					})
					if len(r.messages) != 2 || r.trailers == nil {
						t.Fatalf("%d messages, trailer frame %v; want 2 and a trailer frame", len(r.messages), r.trailers)
					}
					c.wantWebStatus(r, codes.ResourceExhausted, "quota")
				})

				t.Run("no route: Envoy's local reply, in gRPC-Web form", func(t *testing.T) {
					// The local reply is plain HTTP (Envoy decides "gRPC?"
					// before the conversion) without a body: it keeps 404,
					// gains the gRPC-Web content type and, as in Envoy, no
					// grpc-status; the client reads the HTTP status.
					other := *c
					other.host = "nowhere.example.com"
					r := other.call("UnaryCall", &testgrpc.SimpleRequest{})
					if r.status != http.StatusNotFound {
						t.Errorf("HTTP %d, want 404", r.status)
					}
					if code, _ := r.grpcStatus(); code != "" || r.trailers != nil {
						t.Errorf("grpc-status %q, trailer frame %v; want neither", code, r.trailers)
					}
					if ct, want := r.header.Get("Content-Type"), map[bool]string{false: "application/grpc-web+proto", true: "application/grpc-web-text+proto"}[c.text]; ct != want {
						t.Errorf("Content-Type %q, want %q", ct, want)
					}
				})

				t.Run("no healthy upstream: the reply's body becomes grpc-message", func(t *testing.T) {
					other := *c
					other.host = noEndpointsHost
					r := other.call("UnaryCall", &testgrpc.SimpleRequest{})
					if r.status != http.StatusServiceUnavailable {
						t.Errorf("HTTP %d, want 503", r.status)
					}
					other.wantWebStatus(r, codes.Unavailable, "no healthy upstream")
				})
			})
		}
	}

	t.Run("grpc-timeout", func(t *testing.T) {
		// The deadline is honoured as for gRPC; its expiry is the
		// router's 504, a plain local reply for a gRPC-Web request in
		// Envoy, so the client gets 504 with grpc-status 14.
		c := newWebClient(t, e.plain, false)
		msg, err := proto.Marshal(&testgrpc.SimpleRequest{Payload: grpcPayload("hang")})
		if err != nil {
			t.Fatal(err)
		}
		c.header = http.Header{"Grpc-Timeout": {"300m"}}
		r := c.post("UnaryCall", "application/grpc-web+proto", grpcweb.AppendFrame(nil, 0, msg))
		if r.status != http.StatusGatewayTimeout {
			t.Errorf("HTTP %d, want 504", r.status)
		}
		c.wantWebStatus(r, codes.Unavailable, "upstream request timeout")
		select {
		case err := <-backend.ended:
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("backend call ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the backend's call was not cancelled within 5s of the deadline")
		}
	})

	t.Run("invalid base64", func(t *testing.T) {
		c := newWebClient(t, e.plain, true)
		r := c.post("UnaryCall", "application/grpc-web-text", []byte("AAAA*!*!"))
		if r.status != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400", r.status)
		}
		c.wantWebStatus(r, codes.Internal, "Bad gRPC-web request, invalid base64 data.")
	})

	t.Run("other content types pass through", func(t *testing.T) {
		c := newWebClient(t, e.plain, false)
		r := c.post("UnaryCall", "application/json", []byte("{}"))
		// grpc-go itself refuses the content type: 415 reaches the client
		// as the backend sent it, not turned into a gRPC-Web status.
		if r.status != http.StatusUnsupportedMediaType || r.header.Get("Content-Type") != "application/grpc" {
			t.Errorf("a non-gRPC-Web request got %d %v, want grpc-go's own 415", r.status, r.header)
		}
	})
}

// pacedBackend streams one message per value received on next, so a
// client can prove each message reached it before the next was sent.
type pacedBackend struct {
	testgrpc.UnimplementedTestServiceServer
	next chan struct{}
}

func (b *pacedBackend) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	for i := range req.ResponseParameters {
		if i > 0 {
			select {
			case <-b.next:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: grpcPayload(strconv.Itoa(i))}); err != nil {
			return err
		}
	}
	return nil
}

// TestGRPCWebStreamIsNotHeldBack: the backend sends message i+1 only
// after the client has read message i from the gRPC-Web body, so a
// gateway that buffered the stream (to the end, or to fill a buffer)
// would stall until the call's bound instead of passing.
func TestGRPCWebStreamIsNotHeldBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &pacedBackend{next: make(chan struct{})}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	e := startEdge(t, grpcRoutes(ln.Addr().String()))

	for _, text := range []bool{false, true} {
		t.Run(map[bool]string{false: "grpc-web", true: "grpc-web-text"}[text], func(t *testing.T) {
			const n = 5
			req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: make([]*testgrpc.ResponseParameters, n)}
			for i := range req.ResponseParameters {
				req.ResponseParameters[i] = &testgrpc.ResponseParameters{}
			}
			msg, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			body := grpcweb.AppendFrame(nil, 0, msg)
			ct := "application/grpc-web+proto"
			if text {
				body, ct = []byte(base64.StdEncoding.EncodeToString(body)), "application/grpc-web-text+proto"
			}
			hreq, err := http.NewRequestWithContext(callContext(t), http.MethodPost,
				"http://"+e.plain+"/grpc.testing.TestService/StreamingOutputCall", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			hreq.Host = grpcHost
			hreq.Header.Set("Content-Type", ct)
			hreq.Header.Set("Accept", ct)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(hreq)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()

			var buf []byte
			var dec grpcweb.TextDecoder
			chunk := make([]byte, 4096)
			readFrame := func() (byte, []byte) {
				for {
					if flags, payload, rest, ok := grpcweb.SplitFrame(buf); ok {
						buf = rest
						return flags, payload
					}
					k, err := resp.Body.Read(chunk)
					if text {
						var derr error
						if buf, derr = dec.Decode(buf, chunk[:k]); derr != nil {
							t.Fatal(derr)
						}
					} else {
						buf = append(buf, chunk[:k]...)
					}
					if err != nil && k == 0 {
						t.Fatalf("body ended (%v) inside a frame; a stall here means the stream was held back", err)
					}
				}
			}
			for i := range n {
				flags, payload := readFrame()
				var m testgrpc.StreamingOutputCallResponse
				if err := proto.Unmarshal(payload, &m); flags != 0 || err != nil || string(m.GetPayload().GetBody()) != strconv.Itoa(i) {
					t.Fatalf("frame %d: flags %#x, %v, payload %q", i, flags, err, m.GetPayload().GetBody())
				}
				if i < n-1 {
					b.next <- struct{}{}
				}
			}
			flags, payload := readFrame()
			if flags != grpcweb.FlagTrailer || !strings.Contains(string(payload), "grpc-status:0\r\n") {
				t.Fatalf("last frame %#x %q, want the trailer frame with grpc-status 0", flags, payload)
			}
		})
	}
}

// TestGRPCWebFromABrowser is the browser's sequence: a CORS preflight for
// the gRPC-Web headers (not gRPC-Web itself, so it reaches the route's
// corsPolicy unchanged), then the call, whose answer must carry the CORS
// headers that let the page read grpc-status.
func TestGRPCWebFromABrowser(t *testing.T) {
	backend := startGRPCBackend(t)
	const origin = "https://app.example.com"
	routes := strings.Replace(grpcRoutes(backend.addr), "  - route:", `  - corsPolicy:
      allowOrigins: [{exact: "`+origin+`"}]
      allowMethods: [POST]
      allowHeaders: [content-type, x-grpc-web, x-user-agent, grpc-timeout]
      exposeHeaders: [grpc-status, grpc-message]
    route:`, 1)
	e := startEdge(t, routes)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	target := "http://" + e.plain + "/grpc.testing.TestService/UnaryCall"

	pre, err := http.NewRequestWithContext(callContext(t), http.MethodOptions, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Host = grpcHost
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent")
	resp, err := client.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "x-grpc-web") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	msg, err := proto.Marshal(&testgrpc.SimpleRequest{Payload: grpcPayload("from a page")})
	if err != nil {
		t.Fatal(err)
	}
	call, err := http.NewRequestWithContext(callContext(t), http.MethodPost, target, bytes.NewReader(grpcweb.AppendFrame(nil, 0, msg)))
	if err != nil {
		t.Fatal(err)
	}
	call.Host = grpcHost
	call.Header.Set("Origin", origin)
	call.Header.Set("Content-Type", "application/grpc-web+proto")
	call.Header.Set("X-Grpc-Web", "1")
	resp, err = client.Do(call)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Expose-Headers") != "grpc-status,grpc-message" {
		t.Errorf("call's CORS headers: %v", resp.Header)
	}
	// grpc-go sends an empty grpc-message with OK; it is relayed as is.
	if !bytes.HasSuffix(body, grpcweb.AppendTrailerFrame(nil, http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {""}, "Body-Length": {"11"}})) {
		t.Errorf("body %q does not end in the trailer frame with grpc-status 0", body)
	}
}
