package gatewayapi

import (
	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// convertTLSRoute converts a TLSRoute on a Passthrough listener: each rule
// becomes a tls route matching the route's hostnames (as intersected with
// the listener's) by SNI.
func (c *converter) convertTLSRoute(r *resource.TLSRoute) {
	if r.Spec == nil {
		return
	}
	atts := c.attach(&r.Meta, resource.KindTLSRoute, r.Spec.ParentRefs, r.Spec.Hostnames)
	for ri := range r.Spec.Rules {
		dests := c.l4Destinations(&r.Meta, resource.KindTLSRoute, resource.JoinIndex("spec.rules", ri), r.Spec.Rules[ri].BackendRefs)
		if len(dests) == 0 {
			continue // nothing to send to: the connection is closed, as for no route
		}
		for _, a := range atts {
			for _, h := range a.hosts {
				hr := c.host(a.l, h, &r.Meta)
				hr.tls = append(hr.tls, &networkingv1.TLSRoute{
					Match: []*networkingv1.TLSMatchAttributes{{SniHosts: []string{h}}},
					Route: dests,
				})
			}
		}
	}
}

// convertTCPRoute converts a TCPRoute on a TCP listener.
func (c *converter) convertTCPRoute(r *resource.TCPRoute) {
	if r.Spec == nil {
		return
	}
	atts := c.attach(&r.Meta, resource.KindTCPRoute, r.Spec.ParentRefs, nil)
	for ri := range r.Spec.Rules {
		dests := c.l4Destinations(&r.Meta, resource.KindTCPRoute, resource.JoinIndex("spec.rules", ri), r.Spec.Rules[ri].BackendRefs)
		if len(dests) == 0 {
			continue
		}
		for _, a := range atts {
			for _, h := range a.hosts {
				hr := c.host(a.l, h, &r.Meta)
				hr.tcp = append(hr.tcp, &networkingv1.TCPRoute{Route: dests})
			}
		}
	}
}

// l4Destinations converts the backendRefs of a TLSRoute or TCPRoute rule.
func (c *converter) l4Destinations(m *resource.Meta, kind, field string, refs []gatewayv1.BackendRef) []*networkingv1.RouteDestination {
	var out []*networkingv1.RouteDestination
	valid := false
	for i := range refs {
		d := c.destination(m, kind, resource.JoinIndex(field+".backendRefs", i), &refs[i])
		if d != nil {
			out = append(out, &networkingv1.RouteDestination{Destination: d.Destination, Weight: d.Weight})
			valid = valid || !invalidBackend(d.Destination)
		}
	}
	if !valid {
		return nil
	}
	if len(out) == 1 {
		out[0].Weight = 0
	}
	return out
}
