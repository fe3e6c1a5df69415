package validate

import (
	"regexp"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// checkVirtualService is Istio's ValidateVirtualService for the parts a
// decoder cannot see: host and gateway syntax, route structure, weights,
// durations, retry policies, fault percentages, header operations.
func checkVirtualService(vs *resource.VirtualService) diag.List {
	r := newReporter(&vs.Meta)
	spec := vs.Spec
	if spec == nil {
		return nil
	}
	r.generated = gatewaySemantics(vs.Annotations)
	mesh := len(spec.Gateways) == 0
	for i, g := range spec.Gateways {
		if g == "mesh" {
			mesh = true
			continue
		}
		r.checkGatewayName(index("spec.gateways", i), g)
	}
	delegate := len(spec.Hosts) == 0
	if delegate && len(spec.Gateways) > 0 {
		r.errorf(CodeExclusive, "spec.gateways", "a VirtualService without hosts is a delegate; give it hosts or remove gateways",
			"delegate virtual service must have no gateways")
	}
	for i, h := range spec.Hosts {
		field := index("spec.hosts", i)
		if err := validateWildcardDomain(h); err != nil && !isIP(h) {
			r.errorf(CodeHost, field, "hosts are lower-case DNS names; only the first label may be a wildcard", "%v", err)
		}
		if mesh && h == "*" {
			r.errorf(CodeHost, field, "name the service hosts, or bind the VirtualService to a Gateway with spec.gateways",
				"wildcard host * is not allowed for virtual services bound to the mesh gateway")
		}
	}
	if len(spec.Http) == 0 && len(spec.Tcp) == 0 && len(spec.Tls) == 0 {
		r.errorf(CodeNoRoutes, "spec", "add an http route", "http, tcp or tls must be provided in virtual service")
	}
	r.checkExportTo("spec.exportTo", vs.Namespace, spec.ExportTo, false)
	for i, h := range spec.Http {
		if h != nil {
			r.checkHTTPRoute(index("spec.http", i), h)
		}
	}
	for i, t := range spec.Tls {
		if t != nil {
			r.checkTLSRoute(index("spec.tls", i), t, spec.Hosts)
		}
	}
	for i, t := range spec.Tcp {
		if t == nil {
			continue
		}
		field := index("spec.tcp", i)
		for j, m := range t.Match {
			if m == nil {
				continue
			}
			mf := index(field+".match", j)
			if m.Port != 0 {
				r.checkPort(mf+".port", m.Port)
			}
			r.checkSubnets(mf+".destinationSubnets", m.DestinationSubnets)
			r.checkGatewayNames(mf+".gateways", m.Gateways)
		}
		r.checkRouteDestinations(field, t.Route)
	}
	return r.out
}

// checkGatewayName is Istio's validateGatewayNames for one reference.
func (r *reporter) checkGatewayName(field, g string) {
	ns, name, ok := strings.Cut(g, "/")
	if !ok {
		if strings.Contains(g, ".") {
			parts := strings.Split(g, ".")
			r.warnf(CodeDeprecated, field, "write <namespace>/<name>",
				"using legacy gatewayName format %q; prefer the <namespace>/<name> format: %q", g, parts[1]+"/"+parts[0])
		}
		if err := validateFQDN(g); err != nil {
			r.errorf(CodeName, field, "", "%v", err)
		}
		return
	}
	switch {
	case ns == "" || name == "":
		r.errorf(CodeName, field, "", "config namespace and gateway name cannot be empty")
	case ns != "." && !isDNS1123Label(ns):
		r.errorf(CodeName, field, "", "invalid value for namespace: %q", ns)
	case !isDNS1123Label(name) && !r.generated:
		r.errorf(CodeName, field, "", "invalid value for gateway name: %q", name)
	}
}

func (r *reporter) checkGatewayNames(field string, gs []string) {
	for i, g := range gs {
		if g != "mesh" {
			r.checkGatewayName(index(field, i), g)
		}
	}
}

func (r *reporter) checkHTTPRoute(field string, h *networking.HTTPRoute) {
	for j, m := range h.Match {
		if m != nil {
			r.checkHTTPMatch(index(field+".match", j), m)
		}
	}
	actions := 0
	for _, set := range []bool{len(h.Route) > 0, h.Redirect != nil, h.DirectResponse != nil, h.Delegate != nil} {
		if set {
			actions++
		}
	}
	switch {
	case actions == 0:
		r.errorf(translate.CodeRouteAction, field, "add route with a destination",
			"Required value: HTTP route, redirect, direct response or delegate is required")
	case h.Redirect != nil && len(h.Route) > 0:
		r.errorf(translate.CodeRouteAction, field+".redirect", "keep either route or redirect", "HTTP route cannot contain both route and redirect")
	case h.DirectResponse != nil && len(h.Route) > 0:
		r.errorf(translate.CodeRouteAction, field+".directResponse", "keep either route or directResponse",
			"HTTP route cannot contain both route and direct response")
	case h.Redirect != nil && h.DirectResponse != nil:
		r.errorf(translate.CodeRouteAction, field+".directResponse", "", "HTTP route cannot contain both redirect and direct response")
	}
	if h.Redirect != nil || h.DirectResponse != nil {
		if h.Fault != nil {
			r.errorf(CodeExclusive, field+".fault", "fault injection applies to forwarded requests only",
				"HTTP route cannot contain both fault and redirect or direct response")
		}
		if h.Rewrite != nil {
			r.errorf(CodeExclusive, field+".rewrite", "", "HTTP route rule cannot contain both rewrite and redirect or direct response")
		}
	}
	r.checkHTTPDestinations(field, h.Route)
	r.checkRedirect(field+".redirect", h.Redirect)
	r.checkRewrite(field+".rewrite", h.Rewrite)
	if d := h.DirectResponse; d != nil {
		if d.Status < 200 || d.Status > 599 {
			r.invalid(translate.CodeDirectResponse, field+".directResponse.status", "", d.Status, "status must be between 200 and 599")
		}
		if b := d.Body; b != nil && len(b.GetString_())+len(b.GetBytes()) > 1<<20 {
			r.errorf(CodeRange, field+".directResponse.body", "", "the body may be at most 1MB")
		}
	}
	r.checkDuration(field+".timeout", h.Timeout)
	r.checkRetries(field+".retries", h.Retries)
	r.checkFault(field+".fault", h.Fault)
	if h.Mirror != nil && len(h.Mirrors) > 0 {
		r.errorf(CodeExclusive, field+".mirrors", "move mirror into mirrors", "only one of mirror or mirrors can be set")
	}
	r.checkDestination(field+".mirror", h.Mirror)
	r.checkPercentage(field+".mirrorPercentage", h.MirrorPercentage)
	for i, m := range h.Mirrors {
		if m != nil {
			r.checkDestination(index(field+".mirrors", i)+".destination", m.Destination)
			r.checkPercentage(index(field+".mirrors", i)+".percentage", m.Percentage)
		}
	}
	r.checkCORS(field+".corsPolicy", h.CorsPolicy)
	r.checkHeaderOps(field+".headers", h.Headers)
}

func (r *reporter) checkHTTPMatch(field string, m *networking.HTTPMatchRequest) {
	if m.IgnoreUriCase && m.Uri.GetRegex() != "" {
		r.errorf(CodeMatch, field+".ignoreUriCase", "write the regex case-insensitively, e.g. (?i)", "ignoreUriCase cannot be used with regex")
	}
	for _, sm := range []struct {
		name string
		m    *networking.StringMatch
	}{{"uri", m.Uri}, {"scheme", m.Scheme}, {"method", m.Method}, {"authority", m.Authority}} {
		r.checkStringMatch(field+"."+sm.name, sm.m)
	}
	for _, hs := range []struct {
		name string
		m    map[string]*networking.StringMatch
	}{{"headers", m.Headers}, {"withoutHeaders", m.WithoutHeaders}} {
		for _, k := range sortedKeys(hs.m) {
			hf := key(field+"."+hs.name, k)
			if !headerName.MatchString(k) && !strings.HasPrefix(k, "@request.auth.claims") {
				r.errorf(CodeMatch, hf, "header names are letters, digits, '-' and '_'", "header name %s is not a valid header name", k)
			}
			if hs.m[k] == nil {
				r.errorf(CodeMatch, hf, `use {} to match a header that is present`, "header match %s cannot be null", k)
			}
			r.checkStringMatch(hf, hs.m[k])
		}
	}
	for _, k := range sortedKeys(m.QueryParams) {
		r.checkStringMatch(key(field+".queryParams", k), m.QueryParams[k])
	}
	if m.Port != 0 {
		r.checkPort(field+".port", m.Port)
	}
	r.checkLabels(field+".sourceLabels", m.SourceLabels)
	r.checkGatewayNames(field+".gateways", m.Gateways)
}

func (r *reporter) checkStringMatch(field string, m *networking.StringMatch) {
	if m == nil {
		return
	}
	if re, ok := m.MatchType.(*networking.StringMatch_Regex); ok {
		if re.Regex == "" {
			r.errorf(CodeMatch, field+".regex", "", "Required value: regex must be non-empty")
		} else if _, err := regexp.Compile(re.Regex); err != nil {
			r.errorf(translate.CodeBadRegex, field+".regex", "Envoy uses RE2: no look-around or back-references", "%q is not a valid regex: %v", re.Regex, err)
		}
	}
}

// checkHTTPDestinations is Istio's validateHTTPRouteDestinations, plus
// the starved-destination warning: a zero weight next to positive ones is
// legal but means that destination never receives a request.
func (r *reporter) checkHTTPDestinations(field string, ds []*networking.HTTPRouteDestination) {
	var total int64
	for i, d := range ds {
		if d == nil {
			continue
		}
		df := index(field+".route", i)
		if d.Destination == nil {
			r.required(df+".destination", "", "destination is required")
		}
		r.checkDestination(df+".destination", d.Destination)
		if d.Weight < 0 {
			r.invalid(translate.CodeBadWeight, df+".weight", "weights are relative and at least 0", d.Weight, "weight must not be negative")
		}
		total += int64(max(d.Weight, 0))
		r.checkHeaderOps(df+".headers", d.Headers)
	}
	if len(ds) > 1 && total == 0 {
		r.errorf(translate.CodeZeroWeights, field+".route", "give at least one destination a positive weight", "total destination weight = 0")
	}
	r.reportStarved(field+".route", len(ds), total, func(i int) (int32, *networking.Destination) {
		if ds[i] == nil {
			return 0, nil
		}
		return ds[i].Weight, ds[i].Destination
	})
}

func (r *reporter) reportStarved(field string, n int, total int64, at func(int) (int32, *networking.Destination)) {
	if n < 2 || total == 0 {
		return
	}
	for i := range n {
		w, d := at(i)
		if w != 0 {
			continue
		}
		target := d.GetHost()
		if d.GetSubset() != "" {
			target += " subset " + d.GetSubset()
		}
		r.warnf(CodeStarvedDestination, index(field, i)+".weight", "give it a positive weight, or remove it from the split",
			"weight 0 in a split: %s never receives a request", target)
	}
}

func (r *reporter) checkRouteDestinations(field string, ds []*networking.RouteDestination) {
	if len(ds) == 0 {
		r.required(field+".route", "", "route is required")
		return
	}
	var total int64
	for i, d := range ds {
		if d == nil {
			continue
		}
		df := index(field+".route", i)
		if d.Destination == nil {
			r.required(df+".destination", "", "destination is required")
		}
		r.checkDestination(df+".destination", d.Destination)
		if d.Weight < 0 {
			r.invalid(translate.CodeBadWeight, df+".weight", "", d.Weight, "weight must not be negative")
		}
		total += int64(max(d.Weight, 0))
	}
	if len(ds) > 1 && total == 0 {
		r.errorf(translate.CodeZeroWeights, field+".route", "", "total destination weight = 0")
	}
	r.reportStarved(field+".route", len(ds), total, func(i int) (int32, *networking.Destination) {
		if ds[i] == nil {
			return 0, nil
		}
		return ds[i].Weight, ds[i].Destination
	})
}

func (r *reporter) checkDestination(field string, d *networking.Destination) {
	if d == nil || r.generated {
		// Istio does not check the destinations of routes it generated
		// from Gateway API routes: an empty host there stands for a
		// backend that could not be resolved, answered with 500.
		return
	}
	if d.Host == "" {
		r.errorf(translate.CodeNoDestinationHost, field+".host", "name a Service or ServiceEntry host", "Required value: destination.host is required")
	} else if err := validateWildcardDomain(d.Host); err != nil && !isIP(d.Host) {
		r.errorf(CodeHost, field+".host", "", "%v", err)
	}
	if d.Subset != "" && !isDNS1123Label(d.Subset) {
		r.invalid(CodeName, field+".subset", "subset names are DNS labels", d.Subset, "subset name is invalid")
	}
	if p := d.Port; p != nil && p.Number != 0 {
		r.checkPort(field+".port.number", p.Number)
	}
}
