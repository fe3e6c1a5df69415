package app

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/internal/telemetry/tracing"
)

// otlpReceiver is an OTLP/HTTP trace receiver on 127.0.0.1 that decodes
// the exported protobuf.
type otlpReceiver struct {
	url string

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			svc := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					svc = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rc.spans = append(rc.spans, s)
					rc.services = append(rc.services, svc)
				}
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rc.url = "http://" + ln.Addr().String()
	return rc
}

// span returns the exported span of trace traceID (hex), waiting for
// the batch to arrive, or nil.
func (rc *otlpReceiver) span(traceID string, wait time.Duration) (*tracepb.Span, string) {
	deadline := time.Now().Add(wait)
	for {
		rc.mu.Lock()
		for i, s := range rc.spans {
			if hex.EncodeToString(s.TraceId) == traceID {
				rc.mu.Unlock()
				return s, rc.services[i]
			}
		}
		rc.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, ""
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoed parses the echo backend's body into the headers it received.
func echoed(body string) http.Header {
	h := http.Header{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "header "); ok {
			k, v, _ := strings.Cut(kv, "=")
			h.Add(k, v)
		}
	}
	return h
}

func attrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.GetValue().GetStringValue()
	}
	return m
}

// The gateway continues W3C and B3 traces with its own span as the
// upstream request's parent, honours the sampling decision the request
// carries, starts traces for requests without one, and exports its
// sampled spans over OTLP with Envoy's span tags.
func TestTracingPropagationAndExport(t *testing.T) {
	rc := startOTLPReceiver(t)
	f := startFixtureWith(t, 100, 0, func(o *Options) {
		o.Tracing = tracing.Options{OTLPEndpoint: rc.url, SamplePercent: 100, BatchTimeout: 20 * time.Millisecond}
	})
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	tests := []struct {
		name    string
		headers map[string]string
		// wantTrace is the trace id the upstream must see; "" for a new one.
		wantTrace   string
		wantSampled bool
		wantParent  string // parent span id of the exported span
		singleB3    bool
	}{
		{"w3c sampled", map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01", "tracestate": "vendor=abc"}, traceID, true, parentID, false},
		{"w3c not sampled", map[string]string{"traceparent": "00-" + "1bf92f3577b34da6a3ce929d0e0e4736" + "-" + parentID + "-00"}, "1bf92f3577b34da6a3ce929d0e0e4736", false, "", false},
		{"b3 multi sampled", map[string]string{"X-B3-TraceId": "2bf92f3577b34da6a3ce929d0e0e4736", "X-B3-SpanId": parentID, "X-B3-Sampled": "1"}, "2bf92f3577b34da6a3ce929d0e0e4736", true, parentID, false},
		{"b3 multi not sampled", map[string]string{"X-B3-TraceId": "3bf92f3577b34da6a3ce929d0e0e4736", "X-B3-SpanId": parentID, "X-B3-Sampled": "0"}, "3bf92f3577b34da6a3ce929d0e0e4736", false, "", false},
		{"b3 64-bit trace id", map[string]string{"X-B3-TraceId": "a3ce929d0e0e4736", "X-B3-SpanId": parentID, "X-B3-Sampled": "1"}, "0000000000000000a3ce929d0e0e4736", true, parentID, false},
		{"b3 single", map[string]string{"b3": "5bf92f3577b34da6a3ce929d0e0e4736-" + parentID + "-1"}, "5bf92f3577b34da6a3ce929d0e0e4736", true, parentID, true},
		{"b3 sampling only", map[string]string{"b3": "0"}, "", false, "", true},
		{"no context", nil, "", true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.url+"trace", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			up := echoed(string(body))

			// W3C: same trace, the gateway's span id, the decision kept.
			tp := strings.Split(up.Get("Traceparent"), "-")
			if len(tp) != 4 || tp[0] != "00" || len(tp[1]) != 32 || len(tp[2]) != 16 {
				t.Fatalf("upstream traceparent %q", up.Get("Traceparent"))
			}
			gotTrace, gotSpan, flags := tp[1], tp[2], tp[3]
			if tc.wantTrace != "" && gotTrace != tc.wantTrace {
				t.Errorf("upstream trace id %s, want %s", gotTrace, tc.wantTrace)
			}
			if gotSpan == parentID {
				t.Errorf("upstream parent span is the client's %s; want the gateway's own span", parentID)
			}
			if want := map[bool]string{true: "01", false: "00"}[tc.wantSampled]; flags != want {
				t.Errorf("upstream trace flags %s, want %s", flags, want)
			}
			// B3 carries the same context.
			if up.Get("X-B3-Traceid") != gotTrace || up.Get("X-B3-Spanid") != gotSpan {
				t.Errorf("upstream B3 %q/%q, want %s/%s", up.Get("X-B3-Traceid"), up.Get("X-B3-Spanid"), gotTrace, gotSpan)
			}
			if want := map[bool]string{true: "1", false: "0"}[tc.wantSampled]; up.Get("X-B3-Sampled") != want {
				t.Errorf("upstream X-B3-Sampled %q, want %s", up.Get("X-B3-Sampled"), want)
			}
			if tc.singleB3 {
				if want := gotTrace + "-" + gotSpan + "-" + map[bool]string{true: "1", false: "0"}[tc.wantSampled]; up.Get("B3") != want {
					t.Errorf("upstream b3 %q, want %q", up.Get("B3"), want)
				}
			} else if b := up.Get("B3"); b != "" {
				t.Errorf("upstream b3 %q for a request without one", b)
			}
			if tc.headers["tracestate"] != "" && up.Get("Tracestate") != tc.headers["tracestate"] {
				t.Errorf("upstream tracestate %q, want %q", up.Get("Tracestate"), tc.headers["tracestate"])
			}
			if len(up.Get("X-Request-Id")) != 36 {
				t.Errorf("upstream x-request-id %q, want a UUID set by the gateway", up.Get("X-Request-Id"))
			}

			wait := 5 * time.Second
			if !tc.wantSampled {
				wait = 300 * time.Millisecond // the batch timeout is 20ms
			}
			span, service := rc.span(gotTrace, wait)
			if !tc.wantSampled {
				if span != nil {
					t.Errorf("exported span %q for a trace not sampled", span.Name)
				}
				return
			}
			if span == nil {
				t.Fatal("no span exported")
			}
			if hex.EncodeToString(span.SpanId) != gotSpan {
				t.Errorf("exported span id %x, upstream parent %s: the upstream request must be the span's child", span.SpanId, gotSpan)
			}
			if got := hex.EncodeToString(span.ParentSpanId); got != tc.wantParent && !(tc.wantParent == "" && len(span.ParentSpanId) == 0) {
				t.Errorf("exported parent span %q, want %q", got, tc.wantParent)
			}
			if span.Name != "echoserver-service.default.svc.cluster.local:80/*" || span.Kind != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("span %q kind %v", span.Name, span.Kind)
			}
			if service != "istio-ingressgateway.istio-system" {
				t.Errorf("service.name %q", service)
			}
			a := attrs(span)
			want := map[string]string{
				"http.method": "GET", "http.status_code": "200", "response_flags": "-",
				"upstream_cluster":  "outbound|80|v1|echoserver-service.default.svc.cluster.local",
				"guid:x-request-id": up.Get("X-Request-Id"), "component": "proxy",
			}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("span tag %s=%q, want %q", k, a[k], v)
				}
			}
			if !strings.HasPrefix(a["http.url"], "http://127.0.0.1:") || !strings.HasSuffix(a["http.url"], "/trace") {
				t.Errorf("http.url %q", a["http.url"])
			}
			if !strings.HasPrefix(a["node_id"], "router~") {
				t.Errorf("node_id %q", a["node_id"])
			}
		})
	}
}
