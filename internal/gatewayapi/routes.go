package gatewayapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// hostKey is one virtual host of one listener: the converted routes of
// every route attached there for that hostname become one VirtualService,
// sorted by the Gateway API's precedence.
type hostKey struct {
	gateway string // the listener's Istio Gateway, "namespace/name"
	host    string
}

type hostRoutes struct {
	l      *listener
	routes []*convRoute
	// tls and tcp are the converted TLSRoutes and TCPRoutes (l4.go), in
	// Bundle order (oldest first).
	tls []*networkingv1.TLSRoute
	tcp []*networkingv1.TCPRoute
	// from is the first route's object, which diagnostics point at.
	from *resource.Meta
}

// convRoute is one converted match of one rule, with what the Gateway API
// orders matches by.
type convRoute struct {
	route *networkingv1.HTTPRoute
	from  *resource.Meta
	// Precedence, most significant first: the path kind (exact, regular
	// expression, prefix, none), the prefix length, a method match, the
	// number of header and of query parameter matches; then the route's
	// age and namespace/name, and the rule and match index.
	pathKind, pathLen, method, headers, query int
	rule, match, variant                      int
}

// Path kinds in precedence order.
const (
	pathExact = iota
	pathRegex
	pathPrefix
)

func (c *converter) add(l *listener, host string, r *convRoute) {
	h := c.host(l, host, r.from)
	h.routes = append(h.routes, r)
}

// host returns the routes of one listener and hostname.
func (c *converter) host(l *listener, host string, from *resource.Meta) *hostRoutes {
	if c.hosts == nil {
		c.hosts = map[hostKey]*hostRoutes{}
	}
	k := hostKey{gateway: l.istio, host: host}
	h := c.hosts[k]
	if h == nil {
		h = &hostRoutes{l: l, from: from}
		c.hosts[k] = h
	}
	return h
}

// virtualServices builds one VirtualService per listener and hostname.
func (c *converter) virtualServices() []*resource.VirtualService {
	keys := make([]hostKey, 0, len(c.hosts))
	for k := range c.hosts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hostKey) int {
		return cmp.Or(cmp.Compare(a.gateway, b.gateway), cmp.Compare(a.host, b.host))
	})
	var out []*resource.VirtualService
	n := map[string]int{}
	for _, k := range keys {
		h := c.hosts[k]
		slices.SortStableFunc(h.routes, precedence)
		ns, gwName, _ := strings.Cut(k.gateway, "/")
		n[k.gateway]++
		name := fmt.Sprintf("%s-%d", gwName, n[k.gateway])
		// Diagnostics about the routes point at the first route's
		// object, which is where a reader will look.
		meta := derivedMeta(h.from, resource.KindVirtualService, name)
		meta.Namespace = ns
		vs := &networkingv1.VirtualService{
			Hosts:    []string{k.host},
			Gateways: []string{k.gateway},
			// Visible to the gateway whatever the mesh's defaults: the
			// Gateway API has no exportTo.
			ExportTo: []string{"*"},
		}
		for _, r := range h.routes {
			vs.Http = append(vs.Http, r.route)
		}
		vs.Tls, vs.Tcp = h.tls, h.tcp
		out = append(out, &resource.VirtualService{Meta: meta, Spec: vs})
	}
	return out
}

// precedence orders converted matches as the Gateway API orders HTTPRoute
// matches: exact paths, then (as Istio does) regular expressions, then
// the longest prefix; then a method match, more header matches, more
// query parameter matches; then the oldest route, its namespace/name, and
// the rule and match order.
func precedence(a, b *convRoute) int {
	return cmp.Or(
		cmp.Compare(a.pathKind, b.pathKind),
		cmp.Compare(b.pathLen, a.pathLen),
		cmp.Compare(b.method, a.method),
		cmp.Compare(b.headers, a.headers),
		cmp.Compare(b.query, a.query),
		a.from.CreationTimestamp.Compare(b.from.CreationTimestamp),
		cmp.Compare(a.from.Namespace+"/"+a.from.Name, b.from.Namespace+"/"+b.from.Name),
		cmp.Compare(a.rule, b.rule),
		cmp.Compare(a.match, b.match),
		cmp.Compare(a.variant, b.variant),
	)
}

// convertHTTPRoute converts each rule of an HTTPRoute for every listener
// it attaches to.
func (c *converter) convertHTTPRoute(r *resource.HTTPRoute) {
	if r.Spec == nil {
		return
	}
	atts := c.attach(&r.Meta, resource.KindHTTPRoute, r.Spec.ParentRefs, r.Spec.Hostnames)
	if len(atts) == 0 {
		return
	}
	for ri := range r.Spec.Rules {
		rule := &r.Spec.Rules[ri]
		field := resource.JoinIndex("spec.rules", ri)
		action, rewrite := c.httpAction(&r.Meta, field, rule)
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.HTTPRouteMatch{{}}
		}
		for mi := range matches {
			mfield := resource.JoinIndex(field+".matches", mi)
			for vi, v := range c.httpMatch(&r.Meta, mfield, &matches[mi], rewrite) {
				route := proto.Clone(action).(*networkingv1.HTTPRoute)
				route.Name = fmt.Sprintf("%s.%s.%d.%d", r.Namespace, r.Name, ri, mi)
				route.Match = []*networkingv1.HTTPMatchRequest{v.match}
				if v.rewriteURI != "" {
					if route.Rewrite == nil {
						route.Rewrite = &networkingv1.HTTPRewrite{}
					}
					route.Rewrite.Uri = v.rewriteURI
				}
				v.conv.route, v.conv.from, v.conv.rule, v.conv.match, v.conv.variant = route, &r.Meta, ri, mi, vi
				for _, a := range atts {
					for _, h := range a.hosts {
						c.add(a.l, h, v.conv)
					}
				}
			}
		}
	}
}

// variant is one Istio match a Gateway API match becomes.
type variant struct {
	match      *networkingv1.HTTPMatchRequest
	rewriteURI string
	conv       *convRoute
}

// httpMatch converts a match. A PathPrefix matches whole path segments
// ("/foo" matches "/foo" and "/foo/bar", not "/foobar"), so a prefix other
// than "/" becomes two matches, the exact path and the prefix with a
// trailing "/", each with the prefix rewrite that keeps the segments
// whole.
func (c *converter) httpMatch(m *resource.Meta, field string, in *gatewayv1.HTTPRouteMatch, rewrite *gatewayv1.HTTPPathModifier) []variant {
	base := &networkingv1.HTTPMatchRequest{}
	conv := convRoute{pathKind: pathPrefix}
	for _, h := range in.Headers {
		name := strings.ToLower(string(h.Name))
		if base.Headers == nil {
			base.Headers = map[string]*networkingv1.StringMatch{}
		}
		if _, dup := base.Headers[name]; dup {
			continue // the first match of a name wins
		}
		base.Headers[name] = stringMatch(h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression, h.Value)
		conv.headers++
	}
	for _, q := range in.QueryParams {
		if base.QueryParams == nil {
			base.QueryParams = map[string]*networkingv1.StringMatch{}
		}
		if _, dup := base.QueryParams[string(q.Name)]; dup {
			continue
		}
		base.QueryParams[string(q.Name)] = stringMatch(q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression, q.Value)
		conv.query++
	}
	if in.Method != nil {
		base.Method = stringMatch(false, string(*in.Method))
		conv.method = 1
	}

	kind, value := gatewayv1.PathMatchPathPrefix, "/"
	if in.Path != nil {
		if in.Path.Type != nil {
			kind = *in.Path.Type
		}
		if in.Path.Value != nil {
			value = *in.Path.Value
		}
	}
	prefixRewrite := ""
	if rewrite != nil && rewrite.Type == gatewayv1.PrefixMatchHTTPPathModifier && rewrite.ReplacePrefixMatch != nil {
		if kind != gatewayv1.PathMatchPathPrefix {
			c.report(m, diag.Warning, CodeUnsupported, field+".path",
				"ReplacePrefixMatch needs a PathPrefix match; the path is not rewritten for this match", "")
		} else {
			prefixRewrite = *rewrite.ReplacePrefixMatch
		}
	}
	with := func(uri *networkingv1.StringMatch, rewriteURI string, cv convRoute) variant {
		mr := proto.Clone(base).(*networkingv1.HTTPMatchRequest)
		mr.Uri = uri
		return variant{match: mr, rewriteURI: rewriteURI, conv: &cv}
	}
	switch kind {
	case gatewayv1.PathMatchExact:
		conv.pathKind, conv.pathLen = pathExact, len(value)
		return []variant{with(&networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Exact{Exact: value}}, "", conv)}
	case gatewayv1.PathMatchRegularExpression:
		conv.pathKind = pathRegex
		return []variant{with(&networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Regex{Regex: value}}, "", conv)}
	}
	trimmed := strings.TrimSuffix(value, "/")
	conv.pathLen = len(trimmed)
	segmentRewrite := ""
	if prefixRewrite != "" {
		segmentRewrite = strings.TrimSuffix(prefixRewrite, "/") + "/"
	}
	prefix := func(p string) *networkingv1.StringMatch {
		return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: p}}
	}
	if trimmed == "" {
		return []variant{with(prefix("/"), segmentRewrite, conv)}
	}
	exactRewrite := prefixRewrite
	if exactRewrite == "" && rewrite != nil && rewrite.ReplacePrefixMatch != nil {
		exactRewrite = "/"
	}
	return []variant{
		with(&networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Exact{Exact: trimmed}}, exactRewrite, conv),
		with(prefix(trimmed+"/"), segmentRewrite, conv),
	}
}

func stringMatch(regex bool, v string) *networkingv1.StringMatch {
	if regex {
		return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Regex{Regex: v}}
	}
	return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Exact{Exact: v}}
}

// httpAction converts what a rule does: filters, backends and timeouts.
// It also returns the URLRewrite path modifier, which depends on the
// match. A filter meshgate does not implement makes the rule answer 500,
// as the Gateway API requires of filters that cannot be applied.
func (c *converter) httpAction(m *resource.Meta, field string, rule *gatewayv1.HTTPRouteRule) (*networkingv1.HTTPRoute, *gatewayv1.HTTPPathModifier) {
	out := &networkingv1.HTTPRoute{}
	var pathRewrite *gatewayv1.HTTPPathModifier
	for i := range rule.Filters {
		f := &rule.Filters[i]
		ffield := resource.JoinIndex(field+".filters", i)
		switch {
		case f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
			out.Headers = withRequestHeaders(out.Headers, f.RequestHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
			out.Headers = withResponseHeaders(out.Headers, f.ResponseHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil:
			out.Redirect = c.redirect(m, ffield+".requestRedirect", f.RequestRedirect)
		case f.Type == gatewayv1.HTTPRouteFilterURLRewrite && f.URLRewrite != nil:
			rw := &networkingv1.HTTPRewrite{}
			if f.URLRewrite.Hostname != nil {
				rw.Authority = string(*f.URLRewrite.Hostname)
			}
			if p := f.URLRewrite.Path; p != nil {
				switch {
				case p.Type == gatewayv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
					rw.UriRegexRewrite = &networkingv1.RegexRewrite{Match: "/.*", Rewrite: *p.ReplaceFullPath}
				case p.Type == gatewayv1.PrefixMatchHTTPPathModifier:
					pathRewrite = p
				}
			}
			out.Rewrite = rw
		case f.Type == gatewayv1.HTTPRouteFilterRequestMirror && f.RequestMirror != nil:
			if mp := c.mirror(m, ffield+".requestMirror", f.RequestMirror); mp != nil {
				out.Mirrors = append(out.Mirrors, mp)
			}
		default:
			c.report(m, diag.Warning, CodeUnsupported, ffield+".type",
				fmt.Sprintf("filter %s is not supported; requests matching the rule get 500, as the Gateway API requires", f.Type),
				"supported: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror")
			return &networkingv1.HTTPRoute{DirectResponse: &networkingv1.HTTPDirectResponse{Status: 500}}, nil
		}
	}
	if t := rule.Timeouts; t != nil {
		if t.Request != nil {
			if d, err := time.ParseDuration(string(*t.Request)); err == nil {
				out.Timeout = durationpb.New(d)
			} else {
				c.report(m, diag.Warning, CodeUnsupported, field+".timeouts.request", fmt.Sprintf("invalid duration: %v", err), "")
			}
		}
		if t.BackendRequest != nil {
			c.report(m, diag.Warning, CodeUnsupported, field+".timeouts.backendRequest",
				"timeouts.backendRequest is not supported; only the request timeout applies", "")
		}
	}
	if rule.Retry != nil {
		c.report(m, diag.Warning, CodeUnsupported, field+".retry", "retry is not supported; Istio's default retry policy applies", "")
	}
	if rule.SessionPersistence != nil {
		c.report(m, diag.Warning, CodeUnsupported, field+".sessionPersistence", "sessionPersistence is not supported; it is ignored", "")
	}
	if out.Redirect != nil {
		return out, pathRewrite
	}
	for i := range rule.BackendRefs {
		br := &rule.BackendRefs[i]
		bfield := resource.JoinIndex(field+".backendRefs", i)
		d := c.destination(m, resource.KindHTTPRoute, bfield, &br.BackendRef)
		if d == nil {
			continue
		}
		for j := range br.Filters {
			if invalidBackend(d.Destination) {
				break
			}
			f := &br.Filters[j]
			switch {
			case f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
				d.Headers = withRequestHeaders(d.Headers, f.RequestHeaderModifier)
			case f.Type == gatewayv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
				d.Headers = withResponseHeaders(d.Headers, f.ResponseHeaderModifier)
			default:
				c.report(m, diag.Warning, CodeUnsupported, resource.JoinIndex(bfield+".filters", j)+".type",
					fmt.Sprintf("backend filter %s is not supported; the backend's share of requests fails", f.Type), "")
				d = &networkingv1.HTTPRouteDestination{Destination: &networkingv1.Destination{Host: InvalidBackendHost}, Weight: d.Weight}
			}
		}
		out.Route = append(out.Route, d)
	}
	finishBackends(out)
	return out, pathRewrite
}

// finishBackends makes a rule without a usable backend answer 500, as
// the Gateway API requires, and drops weights from a single backend.
func finishBackends(out *networkingv1.HTTPRoute) {
	if !slices.ContainsFunc(out.Route, func(d *networkingv1.HTTPRouteDestination) bool { return !invalidBackend(d.Destination) }) {
		out.Route = nil
		out.DirectResponse = &networkingv1.HTTPDirectResponse{Status: 500}
		out.Mirrors, out.Rewrite, out.Timeout = nil, nil, nil
		return
	}
	if len(out.Route) == 1 {
		out.Route[0].Weight = 0
	}
}

// InvalidBackendHost is the destination an unusable backendRef becomes
// when the rule has usable ones too: like Istio, meshgate keeps the
// backend's share of requests, which then fail (503, no cluster, where
// the Gateway API asks for 500), instead of shifting it to the other
// backends and hiding the mistake.
const InvalidBackendHost = "invalid-backend-ref.gateway-api.invalid"

func invalidBackend(d *networkingv1.Destination) bool { return d.GetHost() == InvalidBackendHost }

// destination converts a backendRef: a Service (the default kind) or an
// Istio Hostname (a ServiceEntry host). A backend that cannot be used is
// reported and becomes InvalidBackendHost; weight 0 gives nil.
func (c *converter) destination(m *resource.Meta, fromKind, field string, ref *gatewayv1.BackendRef) *networkingv1.HTTPRouteDestination {
	weight := int32(1)
	if ref.Weight != nil {
		weight = *ref.Weight
	}
	if weight == 0 {
		return nil
	}
	host, ok := c.backendHost(m, fromKind, field, &ref.BackendObjectReference)
	if !ok {
		return &networkingv1.HTTPRouteDestination{Destination: &networkingv1.Destination{Host: InvalidBackendHost}, Weight: weight}
	}
	return &networkingv1.HTTPRouteDestination{
		Destination: &networkingv1.Destination{Host: host, Port: &networkingv1.PortSelector{Number: uint32(*ref.Port)}},
		Weight:      weight,
	}
}

// backendHost resolves a backend object reference to a host.
func (c *converter) backendHost(m *resource.Meta, fromKind, field string, ref *gatewayv1.BackendObjectReference) (string, bool) {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := m.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	if ref.Port == nil {
		c.report(m, diag.Warning, CodeBackendRef, field+".port", "the backend has no port; its share of requests fails", "")
		return "", false
	}
	var host string
	switch {
	case group == "" && kind == "Service":
		host = string(ref.Name) + "." + ns + ".svc." + c.opts.DomainSuffix
	case group == "networking.istio.io" && kind == "Hostname":
		host = string(ref.Name)
	default:
		c.report(m, diag.Warning, CodeBackendRef, field+".kind",
			fmt.Sprintf("backend kind %s/%s is not supported; its share of requests fails", group, kind),
			"use a Service, or an Istio Hostname (group networking.istio.io) for a ServiceEntry host")
		return "", false
	}
	if !c.referenceAllowed(fromKind, m.Namespace, group, kind, ns, string(ref.Name)) {
		c.report(m, diag.Warning, CodeBackendRef, field+".namespace",
			fmt.Sprintf("no ReferenceGrant in namespace %s allows %s from namespace %s to refer to %s %s; its share of requests fails",
				ns, fromKind, m.Namespace, kind, ref.Name),
			fmt.Sprintf("create a ReferenceGrant in %s from %s in %s to %s", ns, fromKind, m.Namespace, kind))
		return "", false
	}
	return host, true
}

func (c *converter) redirect(m *resource.Meta, field string, in *gatewayv1.HTTPRequestRedirectFilter) *networkingv1.HTTPRedirect {
	out := &networkingv1.HTTPRedirect{RedirectCode: 302}
	if in.StatusCode != nil {
		out.RedirectCode = uint32(*in.StatusCode)
	}
	if in.Scheme != nil {
		out.Scheme = *in.Scheme
	}
	if in.Hostname != nil {
		out.Authority = string(*in.Hostname)
	}
	switch {
	case in.Port != nil:
		out.RedirectPort = &networkingv1.HTTPRedirect_Port{Port: uint32(*in.Port)}
	case in.Scheme != nil:
		// "If redirect scheme is not-empty, the redirect port MUST be the
		// well-known port associated with the redirect scheme."
		out.RedirectPort = &networkingv1.HTTPRedirect_DerivePort{DerivePort: networkingv1.HTTPRedirect_FROM_PROTOCOL_DEFAULT}
	default:
		out.RedirectPort = &networkingv1.HTTPRedirect_DerivePort{DerivePort: networkingv1.HTTPRedirect_FROM_REQUEST_PORT}
	}
	if p := in.Path; p != nil {
		switch {
		case p.Type == gatewayv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
			out.Uri = *p.ReplaceFullPath
		default:
			c.report(m, diag.Warning, CodeUnsupported, field+".path",
				"a redirect with ReplacePrefixMatch is not supported; the path is kept", "use ReplaceFullPath")
		}
	}
	return out
}

func (c *converter) mirror(m *resource.Meta, field string, in *gatewayv1.HTTPRequestMirrorFilter) *networkingv1.HTTPMirrorPolicy {
	host, ok := c.backendHost(m, m.Kind, field+".backendRef", &in.BackendRef)
	if !ok {
		return nil
	}
	out := &networkingv1.HTTPMirrorPolicy{
		Destination: &networkingv1.Destination{Host: host, Port: &networkingv1.PortSelector{Number: uint32(*in.BackendRef.Port)}},
		Percentage:  &networkingv1.Percent{Value: 100},
	}
	switch {
	case in.Percent != nil:
		out.Percentage.Value = float64(*in.Percent)
	case in.Fraction != nil:
		den := int32(100)
		if in.Fraction.Denominator != nil {
			den = *in.Fraction.Denominator
		}
		if den > 0 {
			out.Percentage.Value = 100 * float64(in.Fraction.Numerator) / float64(den)
		}
	}
	return out
}

func headerOps(in *gatewayv1.HTTPHeaderFilter) *networkingv1.Headers_HeaderOperations {
	ops := &networkingv1.Headers_HeaderOperations{}
	for _, h := range in.Set {
		if ops.Set == nil {
			ops.Set = map[string]string{}
		}
		ops.Set[strings.ToLower(string(h.Name))] = h.Value
	}
	for _, h := range in.Add {
		if ops.Add == nil {
			ops.Add = map[string]string{}
		}
		ops.Add[strings.ToLower(string(h.Name))] = h.Value
	}
	for _, r := range in.Remove {
		ops.Remove = append(ops.Remove, strings.ToLower(r))
	}
	return ops
}

func withRequestHeaders(h *networkingv1.Headers, in *gatewayv1.HTTPHeaderFilter) *networkingv1.Headers {
	if h == nil {
		h = &networkingv1.Headers{}
	}
	h.Request = headerOps(in)
	return h
}

func withResponseHeaders(h *networkingv1.Headers, in *gatewayv1.HTTPHeaderFilter) *networkingv1.Headers {
	if h == nil {
		h = &networkingv1.Headers{}
	}
	h.Response = headerOps(in)
	return h
}
