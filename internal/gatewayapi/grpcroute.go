package gatewayapi

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// convertGRPCRoute converts a GRPCRoute: a method match is a match on the
// request path "/<service>/<method>", and the rest is as for HTTPRoutes.
func (c *converter) convertGRPCRoute(r *resource.GRPCRoute) {
	if r.Spec == nil {
		return
	}
	atts := c.attach(&r.Meta, resource.KindGRPCRoute, r.Spec.ParentRefs, r.Spec.Hostnames)
	if len(atts) == 0 {
		return
	}
	for ri := range r.Spec.Rules {
		rule := &r.Spec.Rules[ri]
		field := resource.JoinIndex("spec.rules", ri)
		action := c.grpcAction(&r.Meta, field, rule)
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.GRPCRouteMatch{{}}
		}
		for mi := range matches {
			conv := grpcMatch(&matches[mi])
			route := proto.Clone(action).(*networkingv1.HTTPRoute)
			route.Name = fmt.Sprintf("%s.%s.%d.%d", r.Namespace, r.Name, ri, mi)
			route.Match = []*networkingv1.HTTPMatchRequest{conv.match}
			conv.conv.route, conv.conv.from, conv.conv.rule, conv.conv.match = route, &r.Meta, ri, mi
			for _, a := range atts {
				for _, h := range a.hosts {
					c.add(a.l, h, conv.conv)
				}
			}
		}
	}
}

// grpcMatch converts a GRPCRoute match. A full service and method is an
// exact path, a service alone a prefix, anything else a regular
// expression.
func grpcMatch(in *gatewayv1.GRPCRouteMatch) variant {
	mr := &networkingv1.HTTPMatchRequest{}
	conv := &convRoute{pathKind: pathPrefix}
	for _, h := range in.Headers {
		name := strings.ToLower(string(h.Name))
		if mr.Headers == nil {
			mr.Headers = map[string]*networkingv1.StringMatch{}
		}
		if _, dup := mr.Headers[name]; !dup {
			mr.Headers[name] = stringMatch(h.Type != nil && *h.Type == gatewayv1.GRPCHeaderMatchRegularExpression, h.Value)
			conv.headers++
		}
	}
	m := in.Method
	if m == nil || (m.Service == nil && m.Method == nil) {
		mr.Uri = &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: "/"}}
		conv.pathLen = 1
		return variant{match: mr, conv: conv}
	}
	svc, method := derefOr(m.Service, ""), derefOr(m.Method, "")
	regex := m.Type != nil && *m.Type == gatewayv1.GRPCMethodMatchRegularExpression
	switch {
	case !regex && svc != "" && method != "":
		conv.pathKind, conv.pathLen = pathExact, len(svc)+len(method)+2
		mr.Uri = &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Exact{Exact: "/" + svc + "/" + method}}
	case !regex && method == "":
		conv.pathLen = len(svc) + 2
		mr.Uri = &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: "/" + svc + "/"}}
	default:
		if !regex {
			svc, method = regexp.QuoteMeta(svc), regexp.QuoteMeta(method)
		}
		conv.pathKind = pathRegex
		mr.Uri = &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Regex{
			Regex: "/" + orAny(svc) + "/" + orAny(method)}}
	}
	return variant{match: mr, conv: conv}
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func orAny(s string) string {
	if s == "" {
		return "[^/]+"
	}
	return s
}

// grpcAction converts a GRPCRoute rule's filters and backends.
func (c *converter) grpcAction(m *resource.Meta, field string, rule *gatewayv1.GRPCRouteRule) *networkingv1.HTTPRoute {
	out := &networkingv1.HTTPRoute{}
	for i := range rule.Filters {
		f := &rule.Filters[i]
		switch {
		case f.Type == gatewayv1.GRPCRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
			out.Headers = withRequestHeaders(out.Headers, f.RequestHeaderModifier)
		case f.Type == gatewayv1.GRPCRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
			out.Headers = withResponseHeaders(out.Headers, f.ResponseHeaderModifier)
		case f.Type == gatewayv1.GRPCRouteFilterRequestMirror && f.RequestMirror != nil:
			if mp := c.mirror(m, resource.JoinIndex(field+".filters", i)+".requestMirror", f.RequestMirror); mp != nil {
				out.Mirrors = append(out.Mirrors, mp)
			}
		default:
			c.report(m, diag.Warning, CodeUnsupported, resource.JoinIndex(field+".filters", i)+".type",
				fmt.Sprintf("filter %s is not supported; requests matching the rule get 500, as the Gateway API requires", f.Type), "")
			return &networkingv1.HTTPRoute{DirectResponse: &networkingv1.HTTPDirectResponse{Status: 500}}
		}
	}
	if rule.SessionPersistence != nil {
		c.report(m, diag.Warning, CodeUnsupported, field+".sessionPersistence", "sessionPersistence is not supported; it is ignored", "")
	}
	for i := range rule.BackendRefs {
		br := &rule.BackendRefs[i]
		bfield := resource.JoinIndex(field+".backendRefs", i)
		d := c.destination(m, resource.KindGRPCRoute, bfield, &br.BackendRef)
		if d == nil {
			continue
		}
		if len(br.Filters) > 0 {
			c.report(m, diag.Warning, CodeUnsupported, bfield+".filters", "backend filters on a GRPCRoute are not supported; the backend's share of requests fails", "")
			d.Destination = &networkingv1.Destination{Host: InvalidBackendHost}
		}
		out.Route = append(out.Route, d)
	}
	finishBackends(out)
	return out
}
