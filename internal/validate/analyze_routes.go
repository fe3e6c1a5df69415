package validate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// destRef is one destination a VirtualService names, with the field path
// of its Destination message.
type destRef struct {
	field string
	d     *networking.Destination
}

// destinations lists the destinations and mirrors of every route of vs.
func destinations(vs *resource.VirtualService) []destRef {
	var out []destRef
	for i, h := range vs.Spec.Http {
		if h == nil {
			continue
		}
		f := index("spec.http", i)
		for j, d := range h.Route {
			if d != nil && d.Destination != nil {
				out = append(out, destRef{index(f+".route", j) + ".destination", d.Destination})
			}
		}
		if h.Mirror != nil {
			out = append(out, destRef{f + ".mirror", h.Mirror})
		}
		for j, m := range h.Mirrors {
			if m != nil && m.Destination != nil {
				out = append(out, destRef{index(f+".mirrors", j) + ".destination", m.Destination})
			}
		}
	}
	for _, l4 := range []struct {
		name   string
		routes [][]*networking.RouteDestination
	}{{"spec.tls", tlsRoutes(vs.Spec.Tls)}, {"spec.tcp", tcpRoutes(vs.Spec.Tcp)}} {
		for i, rs := range l4.routes {
			for j, d := range rs {
				if d != nil && d.Destination != nil {
					out = append(out, destRef{index(index(l4.name, i)+".route", j) + ".destination", d.Destination})
				}
			}
		}
	}
	return out
}

func tlsRoutes(rs []*networking.TLSRoute) [][]*networking.RouteDestination {
	out := make([][]*networking.RouteDestination, len(rs))
	for i, r := range rs {
		out[i] = r.GetRoute()
	}
	return out
}

func tcpRoutes(rs []*networking.TCPRoute) [][]*networking.RouteDestination {
	out := make([][]*networking.RouteDestination, len(rs))
	for i, r := range rs {
		out[i] = r.GetRoute()
	}
	return out
}

// virtualServices checks each VirtualService's gateways, hosts and
// destinations, then the hosts VirtualServices bound to the mesh share.
func (a *analysis) virtualServices() {
	for _, vs := range a.b.VirtualServices {
		if vs.Spec == nil {
			continue
		}
		a.vsBinding(vs)
		from := viewpoints(vs.Spec.ExportTo, vs.Namespace)
		_, mesh := vsGateways(vs)
		for _, dr := range destinations(vs) {
			a.destination(vs, from, dr)
			if !mesh && dr.d.Subset == "" {
				a.ingressRouteRules(vs, dr)
			}
		}
	}
	a.meshHosts()
}

// destination checks that a destination's host, port and subset exist
// where the VirtualService is used.
func (a *analysis) destination(vs *resource.VirtualService, from []string, dr destRef) {
	d := dr.d
	if d.Host == "" || isIP(d.Host) {
		return
	}
	host := a.resolve(d.Host, vs.Namespace)
	svcs := a.lookup(host, from)
	if len(svcs) == 0 {
		hint := "define it with a Service or a ServiceEntry, or fix the host"
		if len(vs.Spec.ExportTo) > 0 {
			hint = fmt.Sprintf("the host must be visible in every namespace the VirtualService is exported to (%s)", strings.Join(vs.Spec.ExportTo, ", "))
		}
		a.report(&vs.Meta, translate.CodeUnknownService, dr.field+".host", hint,
			fmt.Sprintf("no Service or ServiceEntry visible here defines host %s; requests routed here get 503", host))
		return
	}
	svc := svcs[0]
	if len(svc.ports) > 0 {
		switch p := d.GetPort().GetNumber(); {
		case p != 0 && !svc.hasPort(p):
			a.report(&vs.Meta, translate.CodeUnknownPort, dr.field+".port.number", "use a port the service defines (the Service port, not the targetPort)",
				fmt.Sprintf("%s has no port %d; requests routed here get 503 (no cluster)", host, p))
		case p == 0 && len(svc.ports) > 1:
			a.report(&vs.Meta, translate.CodeAmbiguousPort, dr.field, "set destination.port.number",
				fmt.Sprintf("%s has %d ports and the destination names none", host, len(svc.ports)))
		}
	}
	if d.Subset != "" && !a.subsetDefined(host, d.Subset, vs.Namespace) {
		a.report(&vs.Meta, translate.CodeUnknownSubset, dr.field+".subset", "define the subset in a DestinationRule for the host",
			fmt.Sprintf("no DestinationRule for %s defines subset %q; requests routed here get 503 (no cluster)", host, d.Subset))
	}
}

func (s *service) hasPort(n uint32) bool {
	for _, p := range s.ports {
		if p.number == n {
			return true
		}
	}
	return false
}

// subsetDefined reports whether a DestinationRule visible from namespace
// ns, for host, defines the subset.
func (a *analysis) subsetDefined(host, subset, ns string) bool {
	check := func(rules []*resource.DestinationRule, wildcard bool) bool {
		for _, dr := range rules {
			if dr.Spec.WorkloadSelector != nil || !visibleIn(dr.Spec.ExportTo, dr.Namespace, ns) {
				continue
			}
			if wildcard && !hostCovers(a.resolve(dr.Spec.Host, dr.Namespace), host) {
				continue
			}
			for _, s := range dr.Spec.Subsets {
				if s != nil && s.Name == subset {
					return true
				}
			}
		}
		return false
	}
	return check(a.rulesByHost[host], false) || check(a.wildcardRules, true)
}

// ingressRouteRules warns when a gateway routes to a host without a
// subset while a VirtualService bound to the mesh routes that host by
// subset: the mesh rules do not apply to requests the gateway forwards,
// which go to every version of the service.
func (a *analysis) ingressRouteRules(vs *resource.VirtualService, dr destRef) {
	host := a.resolve(dr.d.Host, vs.Namespace)
	other := a.meshSubsetRouting()[host]
	if other == nil || other == vs {
		return
	}
	a.report(&vs.Meta, CodeIngressRouteRules, dr.field+".host",
		"route to the subsets here too (or delegate to the mesh VirtualService's routes)",
		fmt.Sprintf("VirtualService %s/%s routes %s by subset, but only for the mesh: requests through this gateway go to every version",
			other.Namespace, other.Name, host))
}

// meshSubsetRouting indexes, by host, the first VirtualService bound to
// the mesh that routes the host by subset. It is built on first use.
func (a *analysis) meshSubsetRouting() map[string]*resource.VirtualService {
	if a.meshSubsets != nil {
		return a.meshSubsets
	}
	a.meshSubsets = map[string]*resource.VirtualService{}
	for _, vs := range a.b.VirtualServices {
		if vs.Spec == nil {
			continue
		}
		if _, mesh := vsGateways(vs); !mesh {
			continue
		}
		bySubset := false
		for _, d := range destinations(vs) {
			bySubset = bySubset || d.d.Subset != ""
		}
		if !bySubset {
			continue
		}
		for _, h := range vs.Spec.Hosts {
			if host := a.resolve(h, vs.Namespace); a.meshSubsets[host] == nil {
				a.meshSubsets[host] = vs
			}
		}
	}
	return a.meshSubsets
}

// meshHosts warns when VirtualServices bound to the mesh claim the same
// host where both are visible: sidecars then use only one of them.
func (a *analysis) meshHosts() {
	type claim struct {
		vs    *resource.VirtualService
		field string
	}
	byHost := map[string][]claim{}
	var order []string
	for _, vs := range a.b.VirtualServices {
		if vs.Spec == nil {
			continue
		}
		if _, mesh := vsGateways(vs); !mesh {
			continue
		}
		for i, h := range vs.Spec.Hosts {
			host := a.resolve(h, vs.Namespace)
			if _, ok := byHost[host]; !ok {
				order = append(order, host)
			}
			byHost[host] = append(byHost[host], claim{vs, index("spec.hosts", i)})
		}
	}
	for _, host := range order {
		cs := byHost[host]
		for i, c := range cs {
			var others []string
			for j, o := range cs {
				if i != j && o.vs != c.vs && exportsOverlap(c.vs, o.vs) {
					others = append(others, o.vs.Namespace+"/"+o.vs.Name)
				}
			}
			if len(others) > 0 {
				a.report(&c.vs.Meta, CodeMeshGatewayHosts, c.field, "merge the routes into one VirtualService, or narrow exportTo",
					fmt.Sprintf("VirtualServices %s also claim host %s for the mesh; sidecars use only one of them", strings.Join(others, ", "), host))
			}
		}
	}
}

// exportsOverlap reports whether some namespace sees both VirtualServices.
func exportsOverlap(a, b *resource.VirtualService) bool {
	as, aAll := visibility(a.Spec.ExportTo, a.Namespace)
	bs, bAll := visibility(b.Spec.ExportTo, b.Namespace)
	switch {
	case aAll && bAll:
		return true
	case aAll:
		return len(bs) > 0
	case bAll:
		return len(as) > 0
	}
	for ns := range as {
		if bs[ns] {
			return true
		}
	}
	return false
}

// visibility is the set of namespaces an object exported to exportTo is
// visible in, or all=true for every namespace (the default).
func visibility(exportTo []string, namespace string) (set map[string]bool, all bool) {
	if len(exportTo) == 0 {
		return nil, true
	}
	set = map[string]bool{}
	for _, e := range exportTo {
		switch e {
		case "*":
			return nil, true
		case "~":
		case ".":
			set[namespace] = true
		default:
			set[e] = true
		}
	}
	return set, false
}
