package translate

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingv1 "istio.io/api/networking/v1"
)

// policyBuilder returns a builder with an empty registry and a
// VirtualService to report against, for testing one translation.
func policyBuilder() (*builder, *resource.VirtualService) {
	b := &builder{
		in:       &resource.Bundle{},
		id:       Identity{}.withDefaults(),
		reported: map[string]bool{},
		refs:     map[string]clusterRef{},
	}
	return b, virtualServiceObj("default", "vs", &networkingv1.VirtualService{})
}

// diagSummary renders diagnostics as "severity code" lines, what the
// tables below check.
func diagSummary(diags diag.List) string {
	var parts []string
	for _, d := range diags {
		parts = append(parts, d.Severity.String()+" "+d.Code)
	}
	return strings.Join(parts, ",")
}

var ignoreCompiled = cmpopts.IgnoreFields(snapshot.StringMatch{}, "Compiled")

// TestRouteTimeout quotes Istio: "Timeout for HTTP requests, default is
// disabled", and its validation (at least 1ms, whole milliseconds).
func TestRouteTimeout(t *testing.T) {
	tests := []struct {
		name  string
		in    *durationpb.Duration
		want  time.Duration
		ok    bool
		diags string
	}{
		{"five seconds", durationpb.New(5 * time.Second), 5 * time.Second, true, ""},
		{"one millisecond", durationpb.New(time.Millisecond), time.Millisecond, true, ""},
		{"zero means none, with a warning", durationpb.New(0), 0, true, "warning MG1801"},
		{"under 1ms", durationpb.New(500 * time.Microsecond), 0, false, "error MG1801"},
		{"not whole ms", durationpb.New(1500 * time.Microsecond), 0, false, "error MG1801"},
		{"negative", durationpb.New(-time.Second), 0, false, "error MG1801"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, ok := b.routeTimeout(vs, "spec.http[0].timeout", tt.in)
			if got != tt.want || ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Errorf("got %v, %v, [%s]; want %v, %v, [%s]", got, ok, diagSummary(b.diags), tt.want, tt.ok, tt.diags)
			}
		})
	}
}

// TestCompileRetry checks Istio's ConvertPolicy rules: a retries block
// starts from the built-in policy, attempts 0 turns retries off, numeric
// retryOn tokens become status codes plus retriable-status-codes.
func TestCompileRetry(t *testing.T) {
	def := istioDefaultRetry()
	explicit := func(f func(*snapshot.RetryPolicy)) *snapshot.RetryPolicy {
		p := *def
		p.Default = false
		f(&p)
		return &p
	}
	tests := []struct {
		name   string
		in     *networkingv1.HTTPRetry
		want   *snapshot.RetryPolicy
		ignore bool
		ok     bool
		diags  string
	}{
		{"attempts only keeps the default conditions", &networkingv1.HTTPRetry{Attempts: 5},
			explicit(func(p *snapshot.RetryPolicy) { p.Attempts = 5 }), false, true, ""},
		{"attempts 0 disables", &networkingv1.HTTPRetry{}, nil, false, true, ""},
		{"attempts 0 with settings warns", &networkingv1.HTTPRetry{RetryOn: "5xx"}, nil, false, true, "warning MG1802"},
		{"numeric tokens", &networkingv1.HTTPRetry{Attempts: 3, RetryOn: " 503 ,gateway-error,503, 429"},
			explicit(func(p *snapshot.RetryPolicy) {
				p.Attempts = 3
				p.RetryOn = []string{"gateway-error", "retriable-status-codes"}
				p.RetriableStatusCodes = []uint32{429, 503}
			}), false, true, ""},
		{"unknown tokens dropped", &networkingv1.HTTPRetry{Attempts: 1, RetryOn: "5xx,nope,999"},
			explicit(func(p *snapshot.RetryPolicy) { p.Attempts, p.RetryOn = 1, []string{"5xx"} }), false, true,
			"warning MG1803,warning MG1803"},
		{"every setting", &networkingv1.HTTPRetry{
			Attempts: 2, PerTryTimeout: durationpb.New(time.Second), RetryOn: "reset,unavailable",
			RetryRemoteLocalities: wrapperspb.Bool(true), RetryIgnorePreviousHosts: wrapperspb.Bool(false),
			Backoff: durationpb.New(50 * time.Millisecond),
		}, explicit(func(p *snapshot.RetryPolicy) {
			p.PerTryTimeout, p.RetryOn = time.Second, []string{"reset", "unavailable"}
			p.RetryRemoteLocalities, p.IgnorePreviousHosts, p.BackoffBase = true, false, 50*time.Millisecond
		}), true, true, ""},
		{"negative attempts", &networkingv1.HTTPRetry{Attempts: -1}, nil, false, false, "error MG1802"},
		{"short perTryTimeout", &networkingv1.HTTPRetry{Attempts: 1, PerTryTimeout: durationpb.New(time.Microsecond)},
			nil, false, false, "error MG1802"},
		{"zero backoff", &networkingv1.HTTPRetry{Attempts: 1, Backoff: durationpb.New(0)}, nil, false, false, "error MG1802"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, ok := b.compileRetry(vs, "spec.http[0].retries", tt.in)
			if ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Fatalf("ok %v [%s], want %v [%s]", ok, diagSummary(b.diags), tt.ok, tt.diags)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tt.want, got.policy); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if got.ignoreSet != tt.ignore {
				t.Errorf("ignoreSet = %v, want %v", got.ignoreSet, tt.ignore)
			}
		})
	}
}

// TestDefaultRetryPolicy quotes Istio's built-in policy: "attempts: 2,
// retryOn: connect-failure,refused-stream,unavailable,cancelled,
// retriable-status-codes", previous hosts avoided, 25ms backoff.
func TestDefaultRetryPolicy(t *testing.T) {
	b, _ := policyBuilder()
	got := b.routeRetry(&routePolicy{}, []snapshot.WeightedCluster{{Cluster: "outbound|80||x", Weight: 100}})
	want := &snapshot.RetryPolicy{
		Attempts:            2,
		RetryOn:             []string{"cancelled", "connect-failure", "refused-stream", "retriable-status-codes", "unavailable"},
		IgnorePreviousHosts: true,
		BackoffBase:         25 * time.Millisecond,
		Default:             true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default policy (-want +got):\n%s", diff)
	}
	if off := b.routeRetry(&routePolicy{retry: &compiledRetry{}}, nil); off != nil {
		t.Errorf("attempts 0 gave %+v, want no policy", off)
	}
}

// TestRetryConsistentHash: Istio omits the previous-hosts predicate for a
// route whose single destination hashes, unless the route says
// retryIgnorePreviousHosts itself; weighted splits keep it.
func TestRetryConsistentHash(t *testing.T) {
	bundle := canaryBundle()
	bundle.DestinationRules[0].Spec.TrafficPolicy = &networkingv1.TrafficPolicy{LoadBalancer: &networkingv1.LoadBalancerSettings{
		LbPolicy: &networkingv1.LoadBalancerSettings_ConsistentHash{ConsistentHash: &networkingv1.LoadBalancerSettings_ConsistentHashLB{
			HashKey: &networkingv1.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName{HttpHeaderName: "x-user"},
		}},
	}}
	spec := bundle.VirtualServices[0].Spec
	split := spec.Http[0]
	split.Match = []*networkingv1.HTTPMatchRequest{{Uri: prefix("/split")}}
	single := &networkingv1.HTTPRoute{
		Match: []*networkingv1.HTTPMatchRequest{{Uri: prefix("/single")}},
		Route: []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)},
	}
	explicit := &networkingv1.HTTPRoute{
		Match:   []*networkingv1.HTTPMatchRequest{{Uri: prefix("/explicit")}},
		Route:   []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)},
		Retries: &networkingv1.HTTPRetry{Attempts: 1, RetryIgnorePreviousHosts: wrapperspb.Bool(true)},
	}
	spec.Http = []*networkingv1.HTTPRoute{split, single, explicit}
	snap, diags := Build(bundle, Identity{})
	mustNoDiags(t, diags)
	want := map[string]bool{"default/echo/0": true, "default/echo/1": false, "default/echo/2": true}
	for _, r := range snap.Listeners[0].VirtualHosts[0].Routes {
		if r.Retry == nil || r.Retry.IgnorePreviousHosts != want[r.Name] {
			t.Errorf("route %s retry = %+v, want ignorePreviousHosts %v", r.Name, r.Retry, want[r.Name])
		}
	}
}

// TestCompileFault checks Istio's defaults: no percentage means 0%.
func TestCompileFault(t *testing.T) {
	pct := func(v float64) *networkingv1.Percent { return &networkingv1.Percent{Value: v} }
	fixed := func(d time.Duration) *networkingv1.HTTPFaultInjection_Delay_FixedDelay {
		return &networkingv1.HTTPFaultInjection_Delay_FixedDelay{FixedDelay: durationpb.New(d)}
	}
	httpAbort := func(s int32) *networkingv1.HTTPFaultInjection_Abort_HttpStatus {
		return &networkingv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: s}
	}
	tests := []struct {
		name  string
		in    *networkingv1.HTTPFaultInjection
		want  *snapshot.FaultPolicy
		ok    bool
		diags string
	}{
		{"delay and abort", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{HttpDelayType: fixed(time.Second), Percentage: pct(10)},
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(503), Percentage: pct(1.5)},
		}, &snapshot.FaultPolicy{
			Delay: &snapshot.FaultDelay{Duration: time.Second, Percent: 10},
			Abort: &snapshot.FaultAbort{HTTPStatus: 503, Percent: 1.5},
		}, true, ""},
		{"deprecated integer percent", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{HttpDelayType: fixed(time.Second), Percent: 20},
		}, &snapshot.FaultPolicy{Delay: &snapshot.FaultDelay{Duration: time.Second, Percent: 20}}, true, ""},
		{"grpc abort", &networkingv1.HTTPFaultInjection{Abort: &networkingv1.HTTPFaultInjection_Abort{
			ErrorType: &networkingv1.HTTPFaultInjection_Abort_GrpcStatus{GrpcStatus: "NOT_FOUND"}, Percentage: pct(100),
		}}, &snapshot.FaultPolicy{Abort: &snapshot.FaultAbort{GRPCStatus: "NOT_FOUND", Percent: 100}}, true, ""},
		{"no percentage injects nothing", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{HttpDelayType: fixed(time.Second)},
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(500)},
		}, nil, true, "warning MG1805,warning MG1805"},
		{"explicit zero is silent", &networkingv1.HTTPFaultInjection{
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(500), Percentage: pct(0)},
		}, nil, true, ""},
		{"exponential delay unsupported", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{
				HttpDelayType: &networkingv1.HTTPFaultInjection_Delay_ExponentialDelay{ExponentialDelay: durationpb.New(time.Second)},
				Percentage:    pct(50),
			},
		}, nil, true, "warning MG1805"},
		{"empty", &networkingv1.HTTPFaultInjection{}, nil, false, "error MG1804"},
		{"status 199", &networkingv1.HTTPFaultInjection{
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(199), Percentage: pct(1)},
		}, nil, false, "error MG1804"},
		{"status 599 is fine", &networkingv1.HTTPFaultInjection{
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(599), Percentage: pct(1)},
		}, &snapshot.FaultPolicy{Abort: &snapshot.FaultAbort{HTTPStatus: 599, Percent: 1}}, true, ""},
		{"unknown grpc status", &networkingv1.HTTPFaultInjection{Abort: &networkingv1.HTTPFaultInjection_Abort{
			ErrorType: &networkingv1.HTTPFaultInjection_Abort_GrpcStatus{GrpcStatus: "Unavailable"}, Percentage: pct(1),
		}}, nil, false, "error MG1804"},
		{"percentage over 100", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{HttpDelayType: fixed(time.Second), Percentage: pct(100.5)},
		}, nil, false, "error MG1804"},
		{"negative percentage", &networkingv1.HTTPFaultInjection{
			Abort: &networkingv1.HTTPFaultInjection_Abort{ErrorType: httpAbort(500), Percentage: pct(-1)},
		}, nil, false, "error MG1804"},
		{"delay under 1ms", &networkingv1.HTTPFaultInjection{
			Delay: &networkingv1.HTTPFaultInjection_Delay{HttpDelayType: fixed(time.Microsecond), Percentage: pct(1)},
		}, nil, false, "error MG1804"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, ok := b.compileFault(vs, "spec.http[0].fault", tt.in)
			if ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Fatalf("ok %v [%s], want %v [%s]", ok, diagSummary(b.diags), tt.ok, tt.diags)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fault (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMirrors: 100% by default, an explicit 0 turns a mirror off,
// mirrorPercentage wins over the deprecated mirrorPercent; `mirror`
// comes before `mirrors`, and each resolves to a cluster.
func TestMirrors(t *testing.T) {
	mirror := &networkingv1.Destination{Host: "shadow.internal"}
	tests := []struct {
		name  string
		in    *networkingv1.HTTPRoute
		want  []snapshot.Mirror
		ok    bool
		diags string
	}{
		{"default share", &networkingv1.HTTPRoute{Mirror: mirror},
			[]snapshot.Mirror{{Cluster: "outbound|80||shadow.internal", Percent: 100}}, true, ""},
		{"percentage wins over percent", &networkingv1.HTTPRoute{Mirror: mirror,
			MirrorPercentage: &networkingv1.Percent{Value: 12.5}, MirrorPercent: wrapperspb.UInt32(50)},
			[]snapshot.Mirror{{Cluster: "outbound|80||shadow.internal", Percent: 12.5}}, true, ""},
		{"deprecated percent", &networkingv1.HTTPRoute{Mirror: mirror, MirrorPercent: wrapperspb.UInt32(50)},
			[]snapshot.Mirror{{Cluster: "outbound|80||shadow.internal", Percent: 50}}, true, ""},
		{"explicit zero disables", &networkingv1.HTTPRoute{Mirror: mirror, MirrorPercentage: &networkingv1.Percent{}}, nil, true, ""},
		{"mirror then mirrors", &networkingv1.HTTPRoute{Mirror: mirror, Mirrors: []*networkingv1.HTTPMirrorPolicy{
			{Destination: &networkingv1.Destination{Host: "a", Port: &networkingv1.PortSelector{Number: 8080}}},
			{Destination: &networkingv1.Destination{Host: "b.internal", Subset: "v2"}, Percentage: &networkingv1.Percent{Value: 3}},
			{Destination: &networkingv1.Destination{Host: "c.internal"}, Percentage: &networkingv1.Percent{}},
		}}, []snapshot.Mirror{
			{Cluster: "outbound|80||shadow.internal", Percent: 100},
			{Cluster: "outbound|8080||a.default.svc.cluster.local", Percent: 100},
			{Cluster: "outbound|80|v2|b.internal", Percent: 3},
		}, true, ""},
		{"no host", &networkingv1.HTTPRoute{Mirror: &networkingv1.Destination{}}, nil, false, "error MG1806"},
		{"percent over 100", &networkingv1.HTTPRoute{Mirror: mirror, MirrorPercent: wrapperspb.UInt32(101)}, nil, false, "error MG1806"},
		{"nil mirrors entry", &networkingv1.HTTPRoute{Mirrors: []*networkingv1.HTTPMirrorPolicy{nil}}, nil, false, "error MG1806"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			p := &routePolicy{}
			ok := b.compileMirrors(vs, "spec.http[0]", tt.in, p)
			if ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Fatalf("ok %v [%s], want %v [%s]", ok, diagSummary(b.diags), tt.ok, tt.diags)
			}
			if !ok {
				return
			}
			b.services = map[string]*service{}
			got := b.routeMirrors(p, 80)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mirrors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMirrorClusterIsBuilt: a service used only as a mirror still gets
// its cluster, so mirrored requests have somewhere to go.
func TestMirrorClusterIsBuilt(t *testing.T) {
	bundle := canaryBundle()
	spec := bundle.VirtualServices[0].Spec
	spec.Http[0].Route = spec.Http[0].Route[:1]
	spec.Http[0].Mirror = &networkingv1.Destination{Host: "echoserver-service", Subset: "v2"}
	snap, diags := Build(bundle, Identity{})
	mustNoDiags(t, diags)
	r := snap.Listeners[0].VirtualHosts[0].Routes[0]
	want := "outbound|80|v2|echoserver-service.default.svc.cluster.local"
	if len(r.Mirrors) != 1 || r.Mirrors[0].Cluster != want || r.Mirrors[0].Percent != 100 {
		t.Fatalf("mirrors = %+v", r.Mirrors)
	}
	if c := snap.Cluster(want); c == nil || len(c.Endpoints) != 2 {
		t.Errorf("mirror cluster = %+v, want it built with the v2 endpoints", c)
	}
}

// TestCompileRewrite checks Istio's rewrite validation and the RE2 to Go
// template conversion.
func TestCompileRewrite(t *testing.T) {
	rx := func(match, rewrite string) *networkingv1.HTTPRewrite {
		return &networkingv1.HTTPRewrite{UriRegexRewrite: &networkingv1.RegexRewrite{Match: match, Rewrite: rewrite}}
	}
	tests := []struct {
		name     string
		in       *networkingv1.HTTPRewrite
		want     *snapshot.Rewrite
		template string
		ok       bool
	}{
		{"prefix", &networkingv1.HTTPRewrite{Uri: "/v2/"}, &snapshot.Rewrite{URI: "/v2/"}, "", true},
		{"authority", &networkingv1.HTTPRewrite{Authority: "a.example.com"}, &snapshot.Rewrite{Authority: "a.example.com"}, "", true},
		{"regex", rx(`^/a/(\d+)/(\w+)$`, `/b/\2/\1`), nil, "/b/${2}/${1}", true},
		{"whole match and escapes", rx(`x`, `[\0]\\$1`), nil, `[${0}]\$$1`, true},
		{"uri and regex", &networkingv1.HTTPRewrite{Uri: "/x", UriRegexRewrite: &networkingv1.RegexRewrite{Match: "a", Rewrite: "b"}}, nil, "", false},
		{"nothing", &networkingv1.HTTPRewrite{}, nil, "", false},
		{"regex without rewrite", rx("a", ""), nil, "", false},
		{"bad regex", rx("(", "x"), nil, "", false},
		{"missing group", rx("(a)", `\2`), nil, "", false},
		{"bad escape", rx("a", `\n`), nil, "", false},
		{"trailing backslash", rx("a", `x\`), nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, ok := b.compileRewrite(vs, "spec.http[0].rewrite", tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v [%s]", ok, tt.ok, diagSummary(b.diags))
			}
			if !ok {
				if !hasCode(b.diags, CodeRewrite) {
					t.Errorf("diagnostics = [%s], want %s", diagSummary(b.diags), CodeRewrite)
				}
				return
			}
			if tt.template != "" {
				if got.URIRegex == nil || got.URIRegex.Replacement != tt.template || got.URIRegex.Compiled == nil {
					t.Fatalf("regex rewrite = %+v, want template %q", got.URIRegex, tt.template)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rewrite (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegexRewriteApplies runs a converted template the way the data
// plane will, on Istio's documented example.
func TestRegexRewriteApplies(t *testing.T) {
	b, vs := policyBuilder()
	got, ok := b.compileRewrite(vs, "f", &networkingv1.HTTPRewrite{UriRegexRewrite: &networkingv1.RegexRewrite{
		Match: `^/service/([^/]+)(/.*)$`, Rewrite: `\2/instance/\1`,
	}})
	if !ok {
		t.Fatal(diagSummary(b.diags))
	}
	re := got.URIRegex.Compiled
	if out := re.ReplaceAllString("/service/foo/v1/api", got.URIRegex.Replacement); out != "/v1/api/instance/foo" {
		t.Errorf("rewritten path = %q", out)
	}
}
