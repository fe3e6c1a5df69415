package tracing

import (
	"net/http"
	"strings"
	"testing"
)

// sampledUpstream starts a span for a request with the given headers and
// reports whether the upstream request is marked sampled.
func sampledUpstream(t *testing.T, tr *Tracer, h http.Header) bool {
	t.Helper()
	r, _ := http.NewRequest("GET", "http://example.com/", nil)
	r.Header = h
	s := tr.Start(r)
	out := http.Header{}
	s.Inject(out)
	s.End(nil, "http", "", 0)
	tp := out.Get("Traceparent")
	if len(tp) != 55 {
		t.Fatalf("traceparent %q", tp)
	}
	return strings.HasSuffix(tp, "-01")
}

// Requests without a decision are sampled at the configured rate;
// a decision the request carries wins over the rate either way.
func TestSampling(t *testing.T) {
	const n = 4000
	tests := []struct {
		percent  float64
		min, max int
	}{
		{0, 0, 0},
		{1, 10, 80}, // Istio's default: 40 expected
		{50, 1800, 2200},
		{100, n, n},
	}
	for _, tc := range tests {
		tr, err := New(Options{SamplePercent: tc.percent})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for range n {
			if sampledUpstream(t, tr, http.Header{}) {
				got++
			}
		}
		if got < tc.min || got > tc.max {
			t.Errorf("%v%%: %d of %d sampled, want %d..%d", tc.percent, got, n, tc.min, tc.max)
		}
		sampled := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
		unsampled := http.Header{"X-B3-Traceid": {"4bf92f3577b34da6a3ce929d0e0e4736"}, "X-B3-Spanid": {"00f067aa0ba902b7"}, "X-B3-Sampled": {"0"}}
		if !sampledUpstream(t, tr, sampled) {
			t.Errorf("%v%%: an incoming sampled trace was not kept sampled", tc.percent)
		}
		if sampledUpstream(t, tr, unsampled) {
			t.Errorf("%v%%: an incoming unsampled trace became sampled", tc.percent)
		}
		if !sampledUpstream(t, tr, http.Header{"X-B3-Flags": {"1"}}) {
			t.Errorf("%v%%: a B3 debug request was not sampled", tc.percent)
		}
		_ = tr.Shutdown(t.Context())
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"collector:4318", "http://collector:4318/v1/traces", ""},
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces", ""},
		{"https://otel.example.com/custom/path", "https://otel.example.com/custom/path", ""},
		{"ftp://x:1", "", "scheme"},
		{"http://", "", "host:port"},
	}
	for _, tc := range tests {
		got, err := endpointURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := New(Options{SamplePercent: 101}); err == nil {
		t.Error("101% accepted")
	}
}

// A nil Tracer (tracing off) leaves requests alone.
func TestNilTracer(t *testing.T) {
	var tr *Tracer
	r, _ := http.NewRequest("GET", "http://example.com/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	s := tr.Start(r)
	h := r.Header.Clone()
	s.Inject(h)
	s.End(nil, "http", "", 0)
	if s.Valid() || h.Get("Traceparent") != r.Header.Get("Traceparent") || len(h) != 1 {
		t.Errorf("nil tracer changed headers: %v", h)
	}
}

// BenchmarkPropagate is the tracing cost of one request without an
// exporter: read the incoming context, start the span, write the
// upstream headers, end the span.
func BenchmarkPropagate(b *testing.B) {
	tr, err := New(Options{SamplePercent: DefaultSamplePercent})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(b.Context())
	r, _ := http.NewRequest("GET", "http://example.com/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	out := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		s := tr.Start(r)
		s.Inject(out)
		s.End(nil, "http", "", 0)
	}
}
