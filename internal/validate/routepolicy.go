package validate

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// retryOnPolicies are the x-envoy-retry-on and x-envoy-retry-grpc-on
// values Istio accepts in retries.retryOn (besides HTTP status codes).
var retryOnPolicies = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true, "connect-failure": true,
	"retriable-4xx": true, "refused-stream": true, "retriable-status-codes": true, "retriable-headers": true,
	"envoy-ratelimited": true, "http3-post-connect-failure": true,
	"cancelled": true, "deadline-exceeded": true, "internal": true, "resource-exhausted": true, "unavailable": true,
}

// grpcCodes are the gRPC status names a fault abort may use.
var grpcCodes = map[string]bool{
	"OK": true, "CANCELLED": true, "UNKNOWN": true, "INVALID_ARGUMENT": true, "DEADLINE_EXCEEDED": true,
	"NOT_FOUND": true, "ALREADY_EXISTS": true, "PERMISSION_DENIED": true, "RESOURCE_EXHAUSTED": true,
	"FAILED_PRECONDITION": true, "ABORTED": true, "OUT_OF_RANGE": true, "UNIMPLEMENTED": true,
	"INTERNAL": true, "UNAVAILABLE": true, "DATA_LOSS": true, "UNAUTHENTICATED": true,
}

func (r *reporter) checkRetries(field string, rt *networking.HTTPRetry) {
	if rt == nil {
		return
	}
	if rt.Attempts < 0 {
		r.invalid(CodeRange, field+".attempts", "", rt.Attempts, "attempts cannot be negative")
	}
	r.checkDuration(field+".perTryTimeout", rt.PerTryTimeout)
	r.checkDuration(field+".backoff", rt.Backoff)
	if rt.RetryOn == "" {
		return
	}
	for _, p := range strings.Split(rt.RetryOn, ",") {
		p = strings.TrimSpace(p)
		if p == "" || retryOnPolicies[p] {
			continue
		}
		if code, err := strconv.Atoi(p); err == nil && code >= 100 && code <= 599 {
			continue
		}
		r.errorf(CodeRetryOn, field+".retryOn", "use Envoy's names: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, unavailable, ... or an HTTP status",
			"%q is not a valid retryOn policy", p)
	}
}

func (r *reporter) checkFault(field string, f *networking.HTTPFaultInjection) {
	if f == nil {
		return
	}
	if f.Abort == nil && f.Delay == nil {
		r.errorf(CodeEmpty, field, "set delay or abort", "fault must have at least delay or abort")
	}
	if a := f.Abort; a != nil {
		r.checkPercentage(field+".abort.percentage", a.Percentage)
		switch e := a.ErrorType.(type) {
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			if e.HttpStatus < 200 || e.HttpStatus > 599 {
				r.invalid(CodeFaultStatus, field+".abort.httpStatus", "", e.HttpStatus, "abort http status must be between 200 and 599")
			}
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			if !grpcCodes[e.GrpcStatus] {
				r.invalid(CodeFaultStatus, field+".abort.grpcStatus", "use a gRPC status name such as UNAVAILABLE", e.GrpcStatus, "not a gRPC status name")
			}
		case nil:
			r.required(field+".abort", "set httpStatus or grpcStatus", "abort must set an error")
		}
	}
	if d := f.Delay; d != nil {
		r.checkPercentage(field+".delay.percentage", d.Percentage)
		if d.Percent < 0 || d.Percent > 100 {
			r.invalid(CodeRange, field+".delay.percent", "", d.Percent, "percentage is not in range 0..100")
		}
		switch t := d.HttpDelayType.(type) {
		case *networking.HTTPFaultInjection_Delay_FixedDelay:
			r.checkDuration(field+".delay.fixedDelay", t.FixedDelay)
		case *networking.HTTPFaultInjection_Delay_ExponentialDelay:
			r.checkDuration(field+".delay.exponentialDelay", t.ExponentialDelay)
		case nil:
			r.required(field+".delay.fixedDelay", "", "delay must set fixedDelay")
		}
	}
}

// checkPercentage is Istio's validatePercentage: 0, or 0.0001 to 100.
func (r *reporter) checkPercentage(field string, p *networking.Percent) {
	if p == nil {
		return
	}
	if v := p.Value; v < 0 || v > 100 || (v > 0 && v < 0.0001) {
		r.invalid(CodeRange, field+".value", "", v, "percentage is neither 0.0, nor in range [0.0001, 100.0]")
	}
}

var redirectCodes = map[uint32]bool{301: true, 302: true, 303: true, 307: true, 308: true}

func (r *reporter) checkRedirect(field string, rd *networking.HTTPRedirect) {
	if rd == nil {
		return
	}
	if rd.Uri == "" && rd.Authority == "" && rd.RedirectPort == nil && rd.Scheme == "" && rd.PrefixRewrite == "" {
		r.errorf(translate.CodeRedirect, field, "set uri, authority, scheme or port",
			"redirect must specify URI, authority, scheme, or port")
	}
	if rd.Uri != "" && rd.PrefixRewrite != "" {
		r.errorf(CodeExclusive, field+".prefixRewrite", "", "redirect may only contain one of uri or prefixRewrite")
	}
	if rd.RedirectCode != 0 && !redirectCodes[rd.RedirectCode] {
		r.invalid(translate.CodeRedirect, field+".redirectCode", "", rd.RedirectCode, "must be 301, 302, 303, 307, or 308")
	}
	if p, ok := rd.RedirectPort.(*networking.HTTPRedirect_Port); ok {
		r.checkPort(field+".port", p.Port)
	}
}

func (r *reporter) checkRewrite(field string, rw *networking.HTTPRewrite) {
	if rw == nil {
		return
	}
	if rw.Uri != "" && rw.UriRegexRewrite != nil {
		r.errorf(CodeExclusive, field+".uriRegexRewrite", "", "rewrite may only contain one of URI or UriRegexRewrite")
	}
	if rw.Uri == "" && rw.Authority == "" && rw.UriRegexRewrite == nil {
		r.errorf(CodeEmpty, field, "", "rewrite must specify URI, authority, or uriRegexRewrite")
	}
	if re := rw.UriRegexRewrite; re != nil {
		if re.Match == "" {
			r.required(field+".uriRegexRewrite.match", "", "UriRegexRewrite requires Match")
		} else if _, err := regexp.Compile(re.Match); err != nil {
			r.errorf(translate.CodeBadRegex, field+".uriRegexRewrite.match", "", "%q is not a valid regex: %v", re.Match, err)
		}
	}
}

var supportedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

func (r *reporter) checkCORS(field string, c *networking.CorsPolicy) {
	if c == nil {
		return
	}
	for i, m := range c.AllowOrigins {
		r.checkStringMatch(index(field+".allowOrigins", i), m)
	}
	for i, m := range c.AllowMethods {
		if !supportedMethods[m] {
			r.errorf(CodeHeader, index(field+".allowMethods", i), "use upper-case HTTP method names", "%q is not a supported HTTP method", m)
		}
	}
	for _, l := range []struct {
		name  string
		items []string
	}{{"allowHeaders", c.AllowHeaders}, {"exposeHeaders", c.ExposeHeaders}} {
		for i, h := range l.items {
			if h != "*" && !headerName.MatchString(h) {
				r.errorf(CodeHeader, index(field+"."+l.name, i), "", "header name %s is not a valid header name", h)
			}
		}
	}
	r.checkDuration(field+".maxAge", c.MaxAge)
}

// checkHeaderOps follows Istio's header operation rules: request headers
// may set the authority but no other pseudo-header; nothing may remove
// Host or touch pseudo-headers; values carry no control characters.
func (r *reporter) checkHeaderOps(field string, h *networking.Headers) {
	if h == nil {
		return
	}
	for _, dir := range []struct {
		name    string
		ops     *networking.Headers_HeaderOperations
		request bool
	}{{"request", h.Request, true}, {"response", h.Response, false}} {
		if dir.ops == nil {
			continue
		}
		f := field + "." + dir.name
		for _, op := range []struct {
			name string
			m    map[string]string
		}{{"set", dir.ops.Set}, {"add", dir.ops.Add}} {
			for _, k := range sortedKeys(op.m) {
				kf := key(f+"."+op.name, k)
				r.checkHeaderName(kf, k, dir.request)
				if strings.ContainsFunc(op.m[k], func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }) {
					r.errorf(CodeHeader, kf, "", "header value of %s contains control characters", k)
				}
			}
		}
		for i, k := range dir.ops.Remove {
			r.checkHeaderName(index(f+".remove", i), k, false)
		}
	}
}

func (r *reporter) checkHeaderName(field, name string, allowAuthority bool) {
	lower := strings.ToLower(name)
	authority := lower == ":authority" || lower == "host"
	switch {
	case name == "":
		r.errorf(CodeHeader, field, "", "header name cannot be empty")
	case authority && !allowAuthority:
		r.errorf(CodeHeader, field, "rewrite the authority with rewrite.authority", "invalid header %q: cannot set Host header", name)
	case strings.HasPrefix(name, ":") && !authority:
		r.errorf(CodeHeader, field, "", `invalid header %q: header cannot have ":" prefix`, name)
	}
}

func (r *reporter) checkSubnets(field string, subnets []string) {
	for i, s := range subnets {
		if !isIP(s) && !isCIDR(s) {
			r.invalid(CodeAddress, index(field, i), "", s, "must be an IP address or CIDR")
		}
	}
}

func (r *reporter) checkTLSRoute(field string, t *networking.TLSRoute, hosts []string) {
	if len(t.Match) == 0 {
		r.required(field+".match", "match on the SNI hosts this route serves", "TLS route must have at least one match condition")
	}
	for j, m := range t.Match {
		if m == nil {
			continue
		}
		mf := index(field+".match", j)
		if len(m.SniHosts) == 0 {
			r.required(mf+".sniHosts", "", "TLS match must have at least one SNI host")
		}
		for k, sni := range m.SniHosts {
			sf := index(mf+".sniHosts", k)
			if err := validateWildcardDomain(sni); err != nil {
				r.errorf(CodeHost, sf, "", "%v", err)
				continue
			}
			if !sniCovered(sni, hosts) {
				r.errorf(CodeHost, sf, "an SNI host must equal or fall under one of spec.hosts",
					"the SNI host %q is not a subset of any of the virtual service hosts", sni)
			}
		}
		if m.Port != 0 {
			r.checkPort(mf+".port", m.Port)
		}
		r.checkSubnets(mf+".destinationSubnets", m.DestinationSubnets)
		r.checkGatewayNames(mf+".gateways", m.Gateways)
	}
	r.checkRouteDestinations(field, t.Route)
}

// sniCovered reports whether a VirtualService host covers the SNI host.
func sniCovered(sni string, hosts []string) bool {
	for _, h := range hosts {
		if hostCovers(strings.ToLower(h), strings.ToLower(sni)) {
			return true
		}
	}
	return false
}

// hostCovers reports whether every name b matches is matched by a, with
// Istio's wildcard semantics ("*.foo.com" covers "a.b.foo.com").
func hostCovers(a, b string) bool {
	switch {
	case a == "*":
		return true
	case b == "*":
		return false
	case !strings.HasPrefix(a, "*"):
		return a == b
	}
	suffix := a[1:]
	if strings.HasPrefix(b, "*") {
		return strings.HasSuffix(b[1:], suffix)
	}
	return len(b) > len(suffix) && strings.HasSuffix(b, suffix)
}
