// Package tracing continues or starts a trace for every request through
// the gateway, as Envoy's tracers do in an Istio ingress gateway: the
// trace context arrives in W3C traceparent/tracestate or B3 headers (a
// single b3 header or the X-B3-* set), the gateway's span becomes the
// parent of the upstream request, and the upstream request carries the
// context in both W3C and B3 form, so backends instrumented for either
// join the same trace. A request without a context starts a trace,
// sampled at the configured rate (Istio's default 1%); a sampling
// decision that arrives with the request is honoured.
//
// Spans are exported with OpenTelemetry over OTLP/HTTP when an endpoint
// is configured; without one the context is still propagated, and
// nothing is recorded.
package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// DefaultSamplePercent is Istio's default trace sampling
// (meshConfig.defaultConfig.tracing.sampling, PILOT_TRACE_SAMPLING).
const DefaultSamplePercent = 1.0

// Options configure a Tracer.
type Options struct {
	// SamplePercent is the share of requests without a sampling decision
	// that start a sampled trace, 0 to 100.
	SamplePercent float64
	// OTLPEndpoint is where spans are exported over OTLP/HTTP:
	// "host:port" or a URL; without a path, the OTLP traces path
	// /v1/traces is used. Empty exports nothing.
	OTLPEndpoint string
	// ServiceName is the resource's service.name, as Istio names the
	// gateway's traces: "<canonical service>.<namespace>".
	ServiceName string
	// NodeID is the node_id span tag, the gateway's proxy id.
	NodeID string
	// BatchTimeout bounds how long a finished span waits before it is
	// sent; 0 selects the OpenTelemetry default (5s).
	BatchTimeout time.Duration
}

// Tracer starts the gateway's spans. A nil *Tracer does nothing.
type Tracer struct {
	sampler  sdktrace.Sampler
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	export   bool
	nodeID   string

	extract propagation.TextMapPropagator
	// multi injects W3C and B3 multi-headers; single adds the single b3
	// header, for requests that came with one.
	multi, single propagation.TextMapPropagator
}

// New returns a Tracer; Shutdown flushes and stops its exporter.
func New(opts Options) (*Tracer, error) {
	if opts.SamplePercent < 0 || opts.SamplePercent > 100 {
		return nil, fmt.Errorf("trace sampling %v is not a percentage (0-100)", opts.SamplePercent)
	}
	t := &Tracer{
		nodeID: opts.NodeID,
		// B3 first: a request carrying both is read from traceparent,
		// which a later propagator in the list overrides with.
		extract: propagation.NewCompositeTextMapPropagator(b3.New(), propagation.TraceContext{}),
		multi:   propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader))),
		single:  propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader|b3.B3SingleHeader))),
	}
	t.sampler = sampler{ratio: sdktrace.TraceIDRatioBased(opts.SamplePercent / 100)}
	popts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(t.sampler)}
	if opts.OTLPEndpoint != "" {
		endpoint, err := endpointURL(opts.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("OTLP exporter: %w", err)
		}
		var bopts []sdktrace.BatchSpanProcessorOption
		if opts.BatchTimeout > 0 {
			bopts = append(bopts, sdktrace.WithBatchTimeout(opts.BatchTimeout))
		}
		res := resource.NewSchemaless(attribute.String("service.name", opts.ServiceName))
		popts = append(popts, sdktrace.WithBatcher(exp, bopts...), sdktrace.WithResource(res))
		t.export = true
	}
	if t.export {
		t.provider = sdktrace.NewTracerProvider(popts...)
		t.tracer = t.provider.Tracer("github.com/meshgate/meshgate")
	}
	return t, nil
}

// endpointURL completes "host:port" to an OTLP/HTTP traces URL.
func endpointURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want host:port or an http(s) URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("OTLP endpoint %q: scheme must be http or https", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Exporting reports whether spans are exported.
func (t *Tracer) Exporting() bool { return t != nil && t.export }

// Shutdown sends the spans not yet exported and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Span is the gateway's span of one request.
type Span struct {
	t *Tracer
	// span is the recorded span when spans are exported; without an
	// exporter only sc, the span's context, exists.
	span trace.Span
	sc   trace.SpanContext
	// singleB3 is set when the request came with a single b3 header,
	// which the upstream request then gets in its new form.
	singleB3 bool
}

// Start begins the span of request r, continuing the trace its headers
// carry, if any.
func (t *Tracer) Start(r *http.Request) Span {
	if t == nil {
		return Span{}
	}
	ctx := context.Background()
	// Without any header the propagators read there is nothing to
	// extract: the common edge request skips their allocations.
	if hasTraceHeaders(r.Header) {
		ctx = t.extract.Extract(ctx, headerCarrier(r.Header))
		if !trace.SpanContextFromContext(ctx).IsValid() {
			if d, ok := samplingOnly(r.Header); ok {
				ctx = context.WithValue(ctx, decisionKey{}, d)
			}
		}
	}
	single := r.Header.Get("B3") != ""
	if !t.export {
		return Span{t: t, sc: t.child(ctx), singleB3: single}
	}
	// Envoy gives spans of gateway (outbound) listeners the client kind.
	_, span := t.tracer.Start(ctx, "ingress", trace.WithSpanKind(trace.SpanKindClient))
	return Span{t: t, span: span, singleB3: single}
}

// child is the context of a span that is not recorded: the parent's
// trace (or a new one) with a new span id, sampled as the sampler
// decides, so the upstream request carries the same decision an
// exporting gateway would make.
func (t *Tracer) child(ctx context.Context) trace.SpanContext {
	parent := trace.SpanContextFromContext(ctx)
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), TraceState: parent.TraceState()}
	if !parent.IsValid() {
		binary.BigEndian.PutUint64(cfg.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(cfg.TraceID[8:], rand.Uint64())
	}
	binary.BigEndian.PutUint64(cfg.SpanID[:], rand.Uint64()|1)
	res := t.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: cfg.TraceID})
	if res.Decision == sdktrace.RecordAndSample {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.NewSpanContext(cfg)
}

// Valid reports whether the span exists (tracing is on).
func (s Span) Valid() bool { return s.t != nil }

func (s Span) context() trace.SpanContext {
	if s.span != nil {
		return s.span.SpanContext()
	}
	return s.sc
}

// Inject writes the span's context into the upstream request's headers,
// replacing the trace headers the client sent.
func (s Span) Inject(h http.Header) {
	if s.t == nil {
		return
	}
	for _, k := range []string{"Traceparent", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags", "B3"} {
		delete(h, k)
	}
	sc := s.context()
	if !s.singleB3 && sc.IsValid() && sc.TraceState().Len() == 0 {
		injectMulti(h, sc)
		return
	}
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	p := s.t.multi
	if s.singleB3 {
		p = s.t.single
	}
	p.Inject(ctx, headerCarrier(h))
}

// TraceID returns the trace id in hex, or "" without a span.
func (s Span) TraceID() string {
	if s.t == nil {
		return ""
	}
	return s.context().TraceID().String()
}

// End finishes the span with what the access log knows about the
// request. The span is named as Istio's route decorator names it,
// "<service>:<port>/*" of the destination, or "ingress" when the
// request reached no service.
func (s Span) End(rec *accesslog.Record, scheme, service string, port uint32) {
	if s.span == nil {
		return
	}
	t := s.t
	if t.export && s.span.IsRecording() {
		if service != "" {
			s.span.SetName(service + ":" + strconv.FormatUint(uint64(port), 10) + "/*")
		}
		url := scheme + "://" + rec.Authority + rec.Path
		status := strconv.Itoa(rec.Status)
		s.span.SetAttributes(
			attribute.String("node_id", t.nodeID),
			attribute.String("component", "proxy"),
			attribute.String("guid:x-request-id", rec.RequestID),
			attribute.String("http.url", url),
			attribute.String("http.method", rec.Method),
			attribute.String("http.protocol", rec.Protocol),
			attribute.String("user_agent", orDash(rec.UserAgent)),
			attribute.String("downstream_cluster", "-"),
			attribute.String("peer.address", rec.DownstreamRemoteAddress),
			attribute.String("request_size", strconv.FormatInt(rec.BytesReceived, 10)),
			attribute.String("response_size", strconv.FormatInt(rec.BytesSent, 10)),
			attribute.String("http.status_code", status),
			attribute.String("response_flags", rec.Flags.String()),
			attribute.String("upstream_cluster", orDash(rec.UpstreamCluster)),
			attribute.String("upstream_cluster.name", orDash(rec.UpstreamCluster)),
			attribute.String("upstream_address", orDash(rec.UpstreamHost)),
			attribute.String("route_name", orDash(rec.RouteName)),
		)
		// Envoy marks a span failed for 5xx responses and for requests
		// that got no response.
		if rec.Status >= 500 || rec.Status == 0 {
			s.span.SetAttributes(attribute.String("error", "true"))
			s.span.SetStatus(codes.Error, "")
		}
	}
	s.span.End()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sampler keeps the decision that came with the request: a parent's
// sampled flag, or a B3 sampling-only header; other requests are sampled
// by trace id at the configured rate.
type sampler struct{ ratio sdktrace.Sampler }

type decisionKey struct{}

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	psc := trace.SpanContextFromContext(p.ParentContext)
	sampled, decided := psc.IsSampled(), psc.IsValid()
	if !decided {
		sampled, decided = p.ParentContext.Value(decisionKey{}).(bool)
	}
	if !decided {
		return s.ratio.ShouldSample(p)
	}
	res := sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: psc.TraceState()}
	if sampled {
		res.Decision = sdktrace.RecordAndSample
	}
	return res
}

func (s sampler) Description() string { return "meshgate parent-or-ratio" }

// extractedHeaders are the headers the extracting propagators (W3C
// trace context and B3) read, canonical. Tracestate is read only with
// a traceparent.
var extractedHeaders = []string{"Traceparent", "B3", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags"}

// hasTraceHeaders reports whether h carries any of extractedHeaders.
func hasTraceHeaders(h http.Header) bool {
	for _, k := range extractedHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// samplingOnly reads a B3 sampling decision sent without trace ids: a
// single header "b3: 0", "1" or "d", or X-B3-Sampled / X-B3-Flags alone.
func samplingOnly(h http.Header) (sampled, ok bool) {
	switch h.Get("B3") {
	case "0":
		return false, true
	case "1", "d":
		return true, true
	}
	if h.Get("X-B3-Flags") == "1" {
		return true, true
	}
	switch strings.ToLower(h.Get("X-B3-Sampled")) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// injectMulti writes what the multi propagator writes for sc, a valid
// span context without trace state: traceparent and the B3
// multi-headers X-B3-TraceId, X-B3-SpanId and X-B3-Sampled. The ids are
// hex-encoded once into the traceparent value, the B3 ids are its
// substrings, and the four header values share one array: two
// allocations instead of one per value and per intermediate string.
func injectMulti(h http.Header, sc trace.SpanContext) {
	// W3C keeps only the spec-defined flags: sampled and random.
	flags := [1]byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))}
	tid, sid := sc.TraceID(), sc.SpanID()
	// "00-" trace id (32) "-" span id (16) "-" flags (2)
	var buf [55]byte
	copy(buf[:], "00-")
	hex.Encode(buf[3:35], tid[:])
	buf[35] = '-'
	hex.Encode(buf[36:52], sid[:])
	buf[52] = '-'
	hex.Encode(buf[53:], flags[:])
	tp := string(buf[:])
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	// Full slices (len == cap): an append elsewhere copies.
	vals := &[4]string{tp, tp[3:35], tp[36:52], sampled}
	h["Traceparent"] = vals[0:1:1]
	h["X-B3-Traceid"] = vals[1:2:2]
	h["X-B3-Spanid"] = vals[2:3:3]
	h["X-B3-Sampled"] = vals[3:4:4]
}
