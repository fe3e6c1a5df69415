package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// contribution says that a VirtualService serves a domain on a listener
// on behalf of some Gateways (those whose servers on the listener produced
// the domain for it).
type contribution struct {
	vs       int
	gateways map[string]bool
}

// listenerDomains collects, per domain, the VirtualServices that serve it
// on one listener, oldest first.
type listenerDomains map[string][]*contribution

// requireTLS holds the domains of a listener that a server with
// httpsRedirect produced.
type requireTLS map[string]bool

func (d listenerDomains) add(domain string, vs int, gateway string) {
	cs := d[domain]
	if n := len(cs); n > 0 && cs[n-1].vs == vs {
		cs[n-1].gateways[gateway] = true
		return
	}
	d[domain] = append(cs, &contribution{vs: vs, gateways: map[string]bool{gateway: true}})
}

// bindVirtualServices attaches VirtualServices to the servers of the
// served listeners and builds each listener's virtual hosts.
//
// A VirtualService attaches to a server when its gateways name the
// server's Gateway, the server host's namespace part admits the
// VirtualService's namespace, and one of its hosts intersects the server
// host. The virtual host domains are those intersections. As in Istio,
// several VirtualServices serving one domain are merged into one virtual
// host, oldest first, keeping each one's route order, and routes that
// match every request are then moved to the end.
func (b *builder) bindVirtualServices(listeners []*listenerBuild) {
	domains := make([]listenerDomains, len(listeners))
	redirects := make([]requireTLS, len(listeners))
	for i := range domains {
		domains[i] = listenerDomains{}
		redirects[i] = requireTLS{}
	}
	compiled := map[int]*compiledVS{}

	for vi, vs := range b.in.VirtualServices {
		if vs.Spec == nil {
			b.report(&vs.Meta, diag.Error, CodeNoSpec, "spec", "the VirtualService has no spec; it is ignored", "")
			continue
		}
		if isDelegateVS(vs) && len(vs.Spec.Gateways) == 0 {
			continue // served only through the root routes that delegate to it (delegate.go)
		}
		gateways, bound := b.vsGateways(vs)
		if len(bound) == 0 {
			continue
		}
		if !b.vsVisible(vs) {
			b.reportHiddenVirtualService(vs, bound[0])
			continue
		}
		hosts := b.vsHosts(vs)
		if hosts == nil {
			continue
		}
		compiled[vi] = b.compileVirtualService(vs)
		l4 := b.compileL4(vs)

		matched := map[string]bool{}
		placed := map[string]bool{}
		refused := map[string][]string{} // by gateway: server hosts whose namespace part refused the VirtualService
		for li, l := range listeners {
			for _, srv := range l.servers {
				if !gateways[srv.gateway] {
					continue
				}
				placed[srv.gateway] = true
				bound := false
				for _, sh := range srv.hosts {
					for _, h := range hosts {
						domain, ok := intersectHosts(sh.host, h)
						if !ok {
							continue
						}
						if !sh.admits(vs.Namespace) {
							refused[srv.gateway] = append(refused[srv.gateway], sh.namespace+"/"+sh.host)
							continue
						}
						matched[srv.gateway] = true
						bound = true
						if srv.http {
							domains[li].add(domain, vi, srv.gateway)
							if srv.redirect {
								redirects[li][domain] = true
							}
						}
					}
				}
				if bound && !srv.http {
					b.bindL4(l, srv, vs, l4)
				}
			}
		}
		for _, g := range bound {
			if placed[g] && !matched[g] {
				b.reportNoHostMatch(vs, g, listeners, refused[g])
			}
		}
	}

	cache := map[string][]*snapshot.Route{}
	for li, l := range listeners {
		l.out.VirtualHosts = b.virtualHosts(l, domains[li], redirects[li], compiled, cache)
		b.buildChains(l)
	}
}

// vsGateways resolves a VirtualService's gateways. It returns them as a
// set and, in order, those that select this gateway. A VirtualService
// without gateways is bound to the sidecar mesh only, never to a gateway:
// the most common reason an Istio ingress answers 404, so it is reported.
func (b *builder) vsGateways(vs *resource.VirtualService) (map[string]bool, []string) {
	spec := vs.Spec
	if len(spec.Gateways) == 0 {
		b.report(&vs.Meta, diag.Warning, CodeMeshOnly, "spec.gateways",
			"the VirtualService has no gateways, so Istio binds it to the mesh only; no gateway serves it",
			"add gateways: [<namespace>/<gateway>] naming the Gateway it is for")
		return nil, nil
	}
	set := map[string]bool{}
	var bound []string
	for i, g := range spec.Gateways {
		ref := resolveGatewayRef(g, vs.Namespace)
		if ref == meshGateway || set[ref] {
			continue
		}
		set[ref] = true
		if _, ok := b.gateways[ref]; !ok {
			b.report(&vs.Meta, diag.Warning, CodeGatewayNotFound, resource.JoinIndex("spec.gateways", i),
				fmt.Sprintf("Gateway %s does not exist", ref),
				fmt.Sprintf("name it <namespace>/<name>; a bare name means namespace %s", vs.Namespace))
			continue
		}
		if b.selected[ref] {
			bound = append(bound, ref)
		}
	}
	if len(bound) == 0 {
		return set, nil
	}
	matchGateways := func(field string, gateways []string) {
		for k, g := range gateways {
			if ref := resolveGatewayRef(g, vs.Namespace); ref != meshGateway && !set[ref] {
				b.report(&vs.Meta, diag.Warning, CodeMatchGateway, resource.JoinIndex(field+".gateways", k),
					fmt.Sprintf("Gateway %s is not among the VirtualService's gateways, so this match never applies to it", ref),
					"add it to spec.gateways too")
			}
		}
	}
	for i, r := range spec.Http {
		for j, m := range r.GetMatch() {
			matchGateways(resource.JoinIndex(resource.JoinIndex("spec.http", i)+".match", j), m.GetGateways())
		}
	}
	for i, r := range spec.Tls {
		for j, m := range r.GetMatch() {
			matchGateways(resource.JoinIndex(resource.JoinIndex("spec.tls", i)+".match", j), m.GetGateways())
		}
	}
	for i, r := range spec.Tcp {
		for j, m := range r.GetMatch() {
			matchGateways(resource.JoinIndex(resource.JoinIndex("spec.tcp", i)+".match", j), m.GetGateways())
		}
	}
	return set, bound
}

// vsHosts resolves a VirtualService's hosts as Istio does, even for
// gateways: short names become "<name>.<namespace>.svc.<suffix>", which a
// client at the edge rarely sends, so they are reported.
func (b *builder) vsHosts(vs *resource.VirtualService) []string {
	if len(vs.Spec.Hosts) == 0 {
		b.report(&vs.Meta, diag.Error, CodeNoHosts, "spec.hosts",
			"the VirtualService has no hosts; it is ignored", "list the hosts clients use, or \"*\"")
		return nil
	}
	hosts := make([]string, 0, len(vs.Spec.Hosts))
	for i, h := range vs.Spec.Hosts {
		resolved := resolveShortName(h, vs.Namespace, b.id.DomainSuffix)
		if isShortName(h) {
			b.report(&vs.Meta, diag.Warning, CodeShortHost, resource.JoinIndex("spec.hosts", i),
				fmt.Sprintf("short host %q means %q, so requests for Host: %s do not match it", h, resolved, h),
				"write the host name clients send")
		}
		hosts = append(hosts, resolved)
	}
	return hosts
}

func (b *builder) reportNoHostMatch(vs *resource.VirtualService, gateway string, listeners []*listenerBuild, refused []string) {
	var serverHosts []string
	seen := map[string]bool{}
	for _, l := range listeners {
		for _, srv := range l.servers {
			if srv.gateway != gateway {
				continue
			}
			for _, sh := range srv.hosts {
				s := sh.namespace + "/" + sh.host
				if !seen[s] {
					seen[s] = true
					serverHosts = append(serverHosts, s)
				}
			}
		}
	}
	hint := "a VirtualService host must equal or be covered by a server host (\"*.example.com\" covers \"a.example.com\")"
	if len(refused) > 0 {
		hint = fmt.Sprintf("server host %s only admits VirtualServices from its namespace part; this one is in %s",
			refused[0], vs.Namespace)
	}
	b.report(&vs.Meta, diag.Warning, CodeNoHostMatch, "spec.hosts",
		fmt.Sprintf("no host matches the hosts of Gateway %s (%s), so the gateway does not serve it",
			gateway, strings.Join(serverHosts, ", ")), hint)
}

// virtualHosts builds a listener's virtual hosts. Domains served by the
// same VirtualServices for the same Gateways, and alike in requiring TLS,
// share one virtual host; virtual hosts are sorted by name, which is their
// domains joined by ",".
//
// As in Istio, a host of an httpsRedirect server that no VirtualService
// serves still gets a virtual host, without routes, so that its requests
// are redirected rather than answered 404.
func (b *builder) virtualHosts(l *listenerBuild, domains listenerDomains, redirects requireTLS,
	compiled map[int]*compiledVS, cache map[string][]*snapshot.Route,
) []*snapshot.VirtualHost {
	groups := map[string][]string{}
	var order []string
	for _, domain := range sortedKeys(domains) {
		sig := signature(domains[domain])
		if redirects[domain] {
			sig += "|tls"
		}
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
		}
		groups[sig] = append(groups[sig], domain)
	}

	out := []*snapshot.VirtualHost{}
	for _, sig := range order {
		names := groups[sig]
		var routes []*snapshot.Route
		for _, c := range domains[names[0]] {
			tls := l.family == familyTLS
			key := strconv.Itoa(c.vs) + "|" + strconv.FormatUint(uint64(l.out.Port), 10) + "|" + strconv.FormatBool(tls) +
				"|" + strings.Join(sortedKeys(c.gateways), ",")
			rs, ok := cache[key]
			if !ok {
				rs = b.instantiate(compiled[c.vs], l.out.Port, tls, c.gateways)
				cache[key] = rs
			}
			routes = append(routes, rs...)
		}
		if len(routes) == 0 && !redirects[names[0]] {
			continue
		}
		out = append(out, &snapshot.VirtualHost{
			Name:       strings.Join(names, ","),
			Domains:    names,
			Routes:     sortCatchAllLast(routes),
			RequireTLS: redirects[names[0]],
		})
	}
	for _, srv := range l.servers {
		if !srv.redirect {
			continue
		}
		for _, sh := range srv.hosts {
			if _, ok := domains[sh.host]; ok || redirects[sh.host] {
				continue
			}
			redirects[sh.host] = true
			out = append(out, &snapshot.VirtualHost{
				Name: sh.host, Domains: []string{sh.host}, Routes: []*snapshot.Route{}, RequireTLS: true,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// signature identifies the routes a domain gets: its contributions in
// order.
func signature(cs []*contribution) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = strconv.Itoa(c.vs) + ":" + strings.Join(sortedKeys(c.gateways), ",")
	}
	return strings.Join(parts, ";")
}

// sortCatchAllLast moves routes that match every request to the end,
// keeping the order of the others and of the moved ones, as Istio does for
// gateway virtual hosts merged from several VirtualServices.
func sortCatchAllLast(routes []*snapshot.Route) []*snapshot.Route {
	out := make([]*snapshot.Route, 0, len(routes))
	var last []*snapshot.Route
	for _, r := range routes {
		if isCatchAllRoute(r) {
			last = append(last, r)
		} else {
			out = append(out, r)
		}
	}
	return append(out, last...)
}
