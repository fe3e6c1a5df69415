package translate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// TestRedirectPorts checks derivePort as Istio translates it: the request
// port is the listener's, and a port that is the scheme's default is left
// out of Location.
func TestRedirectPorts(t *testing.T) {
	derive := func(p networkingv1.HTTPRedirect_RedirectPortSelection) *networkingv1.HTTPRedirect_DerivePort {
		return &networkingv1.HTTPRedirect_DerivePort{DerivePort: p}
	}
	tests := []struct {
		name string
		in   *networkingv1.HTTPRedirect
		port uint32
		tls  bool
		want *snapshot.Redirect
	}{
		{"default code", &networkingv1.HTTPRedirect{Uri: "/x"}, 80, false, &snapshot.Redirect{URI: "/x", Code: 301}},
		{"protocol default", &networkingv1.HTTPRedirect{Scheme: "https", RedirectPort: derive(networkingv1.HTTPRedirect_FROM_PROTOCOL_DEFAULT)},
			8080, false, &snapshot.Redirect{Scheme: "https", Code: 301, DerivePort: "FROM_PROTOCOL_DEFAULT"}},
		{"request port", &networkingv1.HTTPRedirect{Authority: "a", RedirectPort: derive(networkingv1.HTTPRedirect_FROM_REQUEST_PORT)},
			8080, false, &snapshot.Redirect{Authority: "a", Port: 8080, Code: 301, DerivePort: "FROM_REQUEST_PORT"}},
		{"request port 443 over TLS", &networkingv1.HTTPRedirect{Uri: "/", RedirectPort: derive(networkingv1.HTTPRedirect_FROM_REQUEST_PORT)},
			443, true, &snapshot.Redirect{URI: "/", Code: 301, DerivePort: "FROM_REQUEST_PORT"}},
		{"explicit 80 to http", &networkingv1.HTTPRedirect{Scheme: "http", RedirectPort: &networkingv1.HTTPRedirect_Port{Port: 80}},
			443, true, &snapshot.Redirect{Scheme: "http", Code: 301}},
		{"explicit 443 kept for http", &networkingv1.HTTPRedirect{RedirectPort: &networkingv1.HTTPRedirect_Port{Port: 443}, RedirectCode: 308},
			80, false, &snapshot.Redirect{Port: 443, Code: 308}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, redirect(tt.in, tt.port, tt.tls)); diff != "" {
				t.Errorf("redirect (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckRedirect applies Istio's redirect validation.
func TestCheckRedirect(t *testing.T) {
	m := func(uri *snapshot.StringMatch) []compiledMatch {
		return []compiledMatch{{match: snapshot.Match{URI: uri}}}
	}
	tests := []struct {
		name    string
		in      *networkingv1.HTTPRedirect
		matches []compiledMatch
		ok      bool
	}{
		{"uri", &networkingv1.HTTPRedirect{Uri: "/x"}, nil, true},
		{"prefix rewrite with prefix match", &networkingv1.HTTPRedirect{PrefixRewrite: "/y"}, m(prefixMatch("/x")), true},
		{"prefix rewrite without path match", &networkingv1.HTTPRedirect{PrefixRewrite: "/y"}, m(nil), true},
		{"prefix rewrite with exact match", &networkingv1.HTTPRedirect{PrefixRewrite: "/y"}, m(exactMatch("/x")), false},
		{"prefix rewrite with regex match", &networkingv1.HTTPRedirect{PrefixRewrite: "/y"}, m(regexMatch("/x.*")), false},
		{"uri and prefix rewrite", &networkingv1.HTTPRedirect{Uri: "/x", PrefixRewrite: "/y"}, nil, false},
		{"nothing", &networkingv1.HTTPRedirect{RedirectCode: 302}, nil, false},
		{"derive port alone", &networkingv1.HTTPRedirect{RedirectPort: &networkingv1.HTTPRedirect_DerivePort{}}, nil, true},
		{"bad scheme", &networkingv1.HTTPRedirect{Scheme: "ftp"}, nil, false},
		{"bad port", &networkingv1.HTTPRedirect{RedirectPort: &networkingv1.HTTPRedirect_Port{Port: 65536}}, nil, false},
		{"code 305", &networkingv1.HTTPRedirect{Uri: "/x", RedirectCode: 305}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			if ok := b.checkRedirect(vs, "spec.http[0].redirect", tt.in, tt.matches); ok != tt.ok {
				t.Errorf("ok = %v, want %v [%s]", ok, tt.ok, diagSummary(b.diags))
			}
			if !tt.ok && !hasCode(b.diags, CodeRedirect) {
				t.Errorf("diagnostics = [%s], want %s", diagSummary(b.diags), CodeRedirect)
			}
		})
	}
}

// TestDirectResponseBodyLimit: Istio caps direct response bodies at 1 MiB.
func TestDirectResponseBodyLimit(t *testing.T) {
	for _, size := range []int{maxDirectResponseBody, maxDirectResponseBody + 1} {
		b, vs := policyBuilder()
		got := b.directResponse(vs, "spec.http[0].directResponse", &networkingv1.HTTPDirectResponse{
			Status: 200, Body: &networkingv1.HTTPBody{Specifier: &networkingv1.HTTPBody_String_{String_: strings.Repeat("x", size)}},
		})
		if ok := got != nil; ok != (size <= maxDirectResponseBody) {
			t.Errorf("body of %d bytes: accepted %v [%s]", size, ok, diagSummary(b.diags))
		}
	}
}

// TestActionPolicy: Istio's validation rejects rewrite and fault on a
// redirect; forwarding settings on a direct response are ignored with a
// warning, while headers, CORS and fault still apply.
func TestActionPolicy(t *testing.T) {
	b, vs := policyBuilder()
	redirectRoute := &networkingv1.HTTPRoute{
		Redirect: &networkingv1.HTTPRedirect{Uri: "/x"},
		Fault:    &networkingv1.HTTPFaultInjection{Abort: &networkingv1.HTTPFaultInjection_Abort{}},
	}
	if b.checkActionPolicy(vs, "spec.http[0]", redirectRoute) || !hasCode(b.diags, CodeFault) {
		t.Errorf("fault with redirect: [%s]", diagSummary(b.diags))
	}

	bundle := canaryBundle()
	bundle.VirtualServices[0].Spec.Http[0] = &networkingv1.HTTPRoute{
		DirectResponse: &networkingv1.HTTPDirectResponse{Status: 503},
		Retries:        &networkingv1.HTTPRetry{Attempts: 3},
		Headers:        &networkingv1.Headers{Response: &networkingv1.Headers_HeaderOperations{Set: map[string]string{"retry-after": "5"}}},
		Fault: &networkingv1.HTTPFaultInjection{Abort: &networkingv1.HTTPFaultInjection_Abort{
			ErrorType: &networkingv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: 500}, Percentage: &networkingv1.Percent{Value: 1},
		}},
	}
	snap, diags := Build(bundle, Identity{})
	if diagSummary(diags) != "warning "+CodePolicyIgnored {
		t.Errorf("diagnostics = [%s], want one %s", diagSummary(diags), CodePolicyIgnored)
	}
	r := snap.Listeners[0].VirtualHosts[0].Routes[0]
	if r.DirectResponse == nil || r.Retry != nil || r.Headers == nil || r.Fault == nil || r.Fault.Abort.HTTPStatus != 500 {
		t.Errorf("route = %+v", r)
	}
}
