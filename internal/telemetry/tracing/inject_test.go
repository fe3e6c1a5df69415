package tracing

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// The direct writer must send exactly what the W3C and B3 propagators
// send, for every flag combination a span context can carry.
func TestInjectMultiMatchesPropagators(t *testing.T) {
	tr, err := New(Options{SamplePercent: 100})
	if err != nil {
		t.Fatal(err)
	}
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	for _, tc := range []struct {
		name  string
		flags trace.TraceFlags
	}{
		{"not sampled", 0},
		{"sampled", trace.FlagsSampled},
		{"random", trace.FlagsRandom},
		{"sampled and random", trace.FlagsSampled | trace.FlagsRandom},
		{"unknown flag bits dropped", 0xfc | trace.FlagsSampled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: tc.flags})
			want := http.Header{}
			tr.multi.Inject(trace.ContextWithSpanContext(context.Background(), sc), headerCarrier(want))
			got := http.Header{}
			injectMulti(got, sc)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("direct %v, propagators %v", got, want)
			}
		})
	}
}

// Inject replaces the client's trace headers and, for a request that
// came with a single b3 header, still answers in that form too.
func TestInjectReplacesClientHeaders(t *testing.T) {
	tr, err := New(Options{SamplePercent: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		in     http.Header
		wantB3 bool
	}{
		{"w3c", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}, false},
		{"b3 multi", http.Header{"X-B3-Traceid": {"4bf92f3577b34da6a3ce929d0e0e4736"}, "X-B3-Spanid": {"00f067aa0ba902b7"}, "X-B3-Sampled": {"1"}, "X-B3-Parentspanid": {"0000000000000001"}}, false},
		{"b3 single", http.Header{"B3": {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://example.com/", nil)
			r.Header = tc.in.Clone()
			s := tr.Start(r)
			out := tc.in.Clone()
			s.Inject(out)
			tp := out.Get("Traceparent")
			if len(tp) != 55 || tp[3:35] != "4bf92f3577b34da6a3ce929d0e0e4736" || tp[53:] != "01" {
				t.Fatalf("traceparent %q does not continue the client's sampled trace", tp)
			}
			if out.Get("X-B3-Traceid") != tp[3:35] || out.Get("X-B3-Spanid") != tp[36:52] || out.Get("X-B3-Sampled") != "1" {
				t.Errorf("B3 headers %v do not match traceparent %q", out, tp)
			}
			if tp[36:52] == "00f067aa0ba902b7" {
				t.Error("the upstream request carries the client's span id, not the gateway's")
			}
			if _, ok := out["X-B3-Parentspanid"]; ok {
				t.Error("the client's X-B3-ParentSpanId was forwarded")
			}
			if got := out.Get("B3") != ""; got != tc.wantB3 {
				t.Errorf("single b3 header present %v, want %v", got, tc.wantB3)
			}
		})
	}
}
