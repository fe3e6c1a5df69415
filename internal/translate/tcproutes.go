package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// compiledL4 is a VirtualService's tls and tcp routes, checked once.
type compiledL4 struct {
	tls []*compiledL4Route
	tcp []*compiledL4Route
}

// compiledL4Route is one TLSRoute or TCPRoute. A route without matches
// (allowed for tcp only) has matches nil and applies everywhere.
type compiledL4Route struct {
	name    string
	matches []l4Match
	dests   []compiledDest
}

// l4Match is the part of a TLSMatchAttributes or L4MatchAttributes a
// gateway can evaluate: SNI (tls only), port, gateways and the source
// selectors, which a gateway compares with itself.
type l4Match struct {
	sniHosts        []string
	port            uint32
	gateways        []string
	sourceLabels    map[string]string
	sourceNamespace string
}

// appliesTo reports whether a match applies to a server: its port, and
// its gateways when set (they replace the VirtualService's), else its
// source selectors.
func (m *l4Match) appliesTo(srv *gwServer, id Identity) bool {
	if m.port != 0 && m.port != srv.spec.Port.Number {
		return false
	}
	if len(m.gateways) > 0 {
		for _, g := range m.gateways {
			if g == srv.gateway {
				return true
			}
		}
		return false
	}
	return labelsMatch(m.sourceLabels, id.Labels) && (m.sourceNamespace == "" || m.sourceNamespace == id.Namespace)
}

// compileL4 checks the tls and tcp routes of vs. A route that cannot be
// served is dropped with a diagnostic; the others are kept.
func (b *builder) compileL4(vs *resource.VirtualService) *compiledL4 {
	out := &compiledL4{}
	for i, r := range vs.Spec.Tls {
		if r == nil {
			continue
		}
		field := resource.JoinIndex("spec.tls", i)
		cr := &compiledL4Route{name: vs.Namespace + "/" + vs.Name + "/tls/" + strconv.Itoa(i)}
		if len(r.Match) == 0 {
			b.report(&vs.Meta, diag.Error, CodeL4Route, field+".match",
				"a tls route needs a match with sniHosts; the route is dropped", "")
			continue
		}
		ok := true
		for j, m := range r.Match {
			if m == nil {
				continue
			}
			if len(m.SniHosts) == 0 {
				b.report(&vs.Meta, diag.Error, CodeL4Route, resource.JoinIndex(field+".match", j)+".sniHosts",
					"a tls match needs sniHosts; the route is dropped", "")
				ok = false
				continue
			}
			b.ignoredSubnets(vs, resource.JoinIndex(field+".match", j), m.DestinationSubnets)
			lm := l4Match{port: m.Port, sourceLabels: m.SourceLabels, sourceNamespace: m.SourceNamespace}
			for _, h := range m.SniHosts {
				lm.sniHosts = append(lm.sniHosts, strings.ToLower(h))
			}
			for _, g := range m.Gateways {
				lm.gateways = append(lm.gateways, resolveGatewayRef(g, vs.Namespace))
			}
			cr.matches = append(cr.matches, lm)
		}
		if cr.dests = b.l4Destinations(vs, field, r.Route); !ok || cr.dests == nil {
			continue
		}
		out.tls = append(out.tls, cr)
	}
	for i, r := range vs.Spec.Tcp {
		if r == nil {
			continue
		}
		field := resource.JoinIndex("spec.tcp", i)
		cr := &compiledL4Route{name: vs.Namespace + "/" + vs.Name + "/tcp/" + strconv.Itoa(i)}
		for j, m := range r.Match {
			if m == nil {
				continue
			}
			b.ignoredSubnets(vs, resource.JoinIndex(field+".match", j), m.DestinationSubnets)
			lm := l4Match{port: m.Port, sourceLabels: m.SourceLabels, sourceNamespace: m.SourceNamespace}
			for _, g := range m.Gateways {
				lm.gateways = append(lm.gateways, resolveGatewayRef(g, vs.Namespace))
			}
			cr.matches = append(cr.matches, lm)
		}
		if cr.dests = b.l4Destinations(vs, field, r.Route); cr.dests == nil {
			continue
		}
		out.tcp = append(out.tcp, cr)
	}
	return out
}

// ignoredSubnets warns about destinationSubnets: a gateway's listener
// address is its own, so Istio's subnet match has nothing to select.
func (b *builder) ignoredSubnets(vs *resource.VirtualService, field string, subnets []string) {
	if len(subnets) > 0 {
		b.report(&vs.Meta, diag.Warning, CodeL4Route, field+".destinationSubnets",
			"destinationSubnets select by the address a connection was sent to, which a gateway does not use; they are ignored", "")
	}
}

// l4Destinations resolves a tls or tcp route's weighted destinations with
// the same rules as HTTP routes (relative weights, weight-0 entries
// dropped when there are several).
func (b *builder) l4Destinations(vs *resource.VirtualService, field string, in []*networkingv1.RouteDestination) []compiledDest {
	if len(in) == 0 {
		b.report(&vs.Meta, diag.Error, CodeL4Route, field+".route", "the route has no destination; it is dropped", "")
		return nil
	}
	conv := make([]*networkingv1.HTTPRouteDestination, len(in))
	for i, d := range in {
		if d == nil {
			d = &networkingv1.RouteDestination{}
		}
		conv[i] = &networkingv1.HTTPRouteDestination{Destination: d.Destination, Weight: d.Weight}
	}
	return b.compileDestinations(vs, field, conv)
}

// bindL4 adds the routes of a VirtualService bound to a server that does
// not serve HTTP: tls routes for a PASSTHROUGH server, whose SNI hosts are
// narrowed to the server's hosts; the first applicable tcp route for a
// TCP server or a TLS server terminating non-HTTP TLS, as Istio uses only
// the first (nothing else tells the connections apart).
func (b *builder) bindL4(l *listenerBuild, srv *gwServer, vs *resource.VirtualService, c *compiledL4) {
	key := nsName(&vs.Meta)
	if srv.passthrough {
		for _, cr := range c.tls {
			var sni []string
			for i := range cr.matches {
				m := &cr.matches[i]
				if !m.appliesTo(srv, b.id) {
					continue
				}
				for _, want := range m.sniHosts {
					for _, sh := range srv.hosts {
						if !sh.admits(vs.Namespace) {
							continue
						}
						if h, ok := intersectHosts(want, sh.host); ok && !containsString(sni, h) {
							sni = append(sni, h)
						}
					}
				}
			}
			if len(sni) == 0 {
				continue
			}
			sort.Strings(sni)
			l.l4[srv] = append(l.l4[srv], &snapshot.L4Route{
				Name: cr.name, VirtualService: key, SNIHosts: sni,
				Destinations: b.l4Clusters(vs, cr, srv),
			})
		}
		return
	}
	if len(l.l4[srv]) > 0 {
		return
	}
	for _, cr := range c.tcp {
		applies := len(cr.matches) == 0
		for i := range cr.matches {
			if cr.matches[i].appliesTo(srv, b.id) {
				applies = true
				break
			}
		}
		if applies {
			l.l4[srv] = []*snapshot.L4Route{{Name: cr.name, VirtualService: key, Destinations: b.l4Clusters(vs, cr, srv)}}
			return
		}
	}
}

// l4Clusters resolves a route's destinations to clusters for a server's
// port (the port an omitted destination port defaults to).
func (b *builder) l4Clusters(vs *resource.VirtualService, cr *compiledL4Route, srv *gwServer) []snapshot.WeightedCluster {
	out := make([]snapshot.WeightedCluster, len(cr.dests))
	for i := range cr.dests {
		out[i] = snapshot.WeightedCluster{
			Cluster: b.resolveDestination(vs, &cr.dests[i], srv.spec.Port.Number),
			Weight:  cr.dests[i].weight,
		}
	}
	return out
}

// buildChains gives a TLS or TCP listener one filter chain per server, in
// server order (oldest first), and reports servers whose connections no
// route would take.
func (b *builder) buildChains(l *listenerBuild) {
	if l.family == familyHTTP {
		return
	}
	for _, srv := range l.servers {
		names := make([]string, 0, len(srv.hosts))
		for _, sh := range srv.hosts {
			if !containsString(names, sh.host) {
				names = append(names, sh.host)
			}
		}
		sort.Strings(names)
		chain := &snapshot.FilterChain{
			Server:      srv.name(),
			ServerNames: names,
			TLS:         srv.tls,
			HTTP:        srv.http,
			Routes:      l.l4[srv],
			Unavailable: srv.unavailable,
		}
		l.out.Chains = append(l.out.Chains, chain)
		if !srv.http && len(chain.Routes) == 0 {
			kind := "tcp"
			if srv.passthrough {
				kind = "tls"
			}
			b.report(srv.meta, diag.Warning, CodeNoL4Route, resource.JoinIndex("spec.servers", srv.index),
				fmt.Sprintf("no %s route of a VirtualService bound to this Gateway applies to the server, so its connections are closed", kind),
				fmt.Sprintf("add a VirtualService with gateways naming %s, hosts matching the server's and a %s route", srv.gateway, kind))
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
