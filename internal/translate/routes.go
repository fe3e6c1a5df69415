package translate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// compiledRoute is one HTTPRoute of a VirtualService, checked and
// translated once. Listener-dependent parts (which matches apply, omitted
// destination ports, redirect ports derived from the request, retries
// that depend on the destination cluster) are settled by instantiate.
type compiledRoute struct {
	// from is the VirtualService the route is written in and field its
	// path there: the delegate, for a route merged from one.
	from  *resource.VirtualService
	field string
	name  string
	// delegate is "namespace/name" of the delegate the route came from.
	delegate string
	// matches is empty when the route has no match: it matches everything.
	matches  []compiledMatch
	dests    []compiledDest
	redirect *networkingv1.HTTPRedirect
	direct   *snapshot.DirectResponse
	policy   *routePolicy
	// rewrite is the rewrite a forwarding route applies (finalRewrite).
	rewrite *snapshot.Rewrite
}

// compiledDest is one weighted destination with its host resolved.
type compiledDest struct {
	// field is the path of the Destination object, for diagnostics.
	field  string
	host   string
	subset string
	// port is 0 when the destination names none.
	port   uint32
	weight uint32
	// headers and authority are the destination's own header operations.
	headers   *snapshot.Headers
	authority string
	// mirror marks a mirror destination, which gets no response.
	mirror bool
}

// compiledVS is a VirtualService's HTTP routes, in order, with delegated
// routes merged in. Routes that failed to compile are absent.
type compiledVS struct {
	vs     *resource.VirtualService
	key    string
	routes []*compiledRoute
}

// compileVirtualService translates the HTTP routes of vs once; the result
// is cached because a VirtualService can serve several listeners.
func (b *builder) compileVirtualService(vs *resource.VirtualService) *compiledVS {
	out := &compiledVS{vs: vs, key: nsName(&vs.Meta)}
	for i, r := range vs.Spec.Http {
		if r == nil {
			continue
		}
		out.routes = append(out.routes, b.compileHTTPRoute(vs, i, r)...)
	}
	return out
}

// routeActions lists the actions a route sets.
func routeActions(in *networkingv1.HTTPRoute) []string {
	var actions []string
	if len(in.Route) > 0 {
		actions = append(actions, "route")
	}
	if in.Redirect != nil {
		actions = append(actions, "redirect")
	}
	if in.DirectResponse != nil {
		actions = append(actions, "directResponse")
	}
	if in.Delegate != nil {
		actions = append(actions, "delegate")
	}
	return actions
}

// checkActions reports a route without exactly one action.
func (b *builder) checkActions(vs *resource.VirtualService, field string, in *networkingv1.HTTPRoute) bool {
	switch actions := routeActions(in); {
	case len(actions) == 0:
		b.report(&vs.Meta, diag.Error, CodeRouteAction, field,
			"the route has no route, redirect, directResponse or delegate; it is dropped", "")
		return false
	case len(actions) > 1:
		b.report(&vs.Meta, diag.Error, CodeRouteAction, field,
			fmt.Sprintf("the route sets %s; exactly one is allowed, so it is dropped", strings.Join(actions, " and ")), "")
		return false
	}
	return true
}

// compileHTTPRoute checks and translates spec.http[i]: one route, or, for
// a delegate route, the delegate's routes merged with it (delegate.go). It
// returns nothing, with a diagnostic, when the route cannot be served; the
// rest of the VirtualService still is.
func (b *builder) compileHTTPRoute(vs *resource.VirtualService, i int, in *networkingv1.HTTPRoute) []*compiledRoute {
	field := resource.JoinIndex("spec.http", i)
	if !b.checkActions(vs, field, in) {
		return nil
	}
	if in.Delegate != nil {
		return b.expandDelegate(vs, field, in)
	}
	matches, ok := b.compileMatches(vs, field, in.Match)
	if !ok {
		return nil
	}
	cr := b.compileBody(vs, field, in, matches)
	if cr == nil {
		return nil
	}
	cr.name = in.Name
	if cr.name == "" {
		cr.name = defaultRouteName(vs, i)
	}
	cr.matches = matches
	return []*compiledRoute{cr}
}

// defaultRouteName names a route without a name.
func defaultRouteName(vs *resource.VirtualService, i int) string {
	return vs.Namespace + "/" + vs.Name + "/" + strconv.Itoa(i)
}

// compileMatches translates a route's matches. ok is false when one is
// malformed (the route is dropped) or when the route has matches and none
// can ever apply (the route is dropped silently: its matches said why).
func (b *builder) compileMatches(vs *resource.VirtualService, field string, in []*networkingv1.HTTPMatchRequest) ([]compiledMatch, bool) {
	var out []compiledMatch
	valid := true
	for j, m := range in {
		if m == nil {
			continue
		}
		cm, outcome := b.compileMatch(vs, resource.JoinIndex(field+".match", j), m)
		switch outcome {
		case matchOK:
			out = append(out, cm)
		case matchInvalid:
			valid = false
		}
	}
	if !valid || (len(in) > 0 && len(out) == 0) {
		return nil, false
	}
	return out, true
}

// compileBody translates everything of a route but its name and matches:
// its policy and its action (redirect, direct response or destinations),
// given the matches it will be used with. It returns nil when the route
// must be dropped.
func (b *builder) compileBody(vs *resource.VirtualService, field string, in *networkingv1.HTTPRoute, matches []compiledMatch) *compiledRoute {
	policy, ok := b.compilePolicy(vs, field, in)
	ok = b.checkActionPolicy(vs, field, in) && ok
	cr := &compiledRoute{from: vs, field: field, policy: policy}
	switch {
	case in.Redirect != nil:
		ok = b.checkRedirect(vs, field+".redirect", in.Redirect, matches) && ok
		cr.redirect = in.Redirect
	case in.DirectResponse != nil:
		cr.direct = b.directResponse(vs, field+".directResponse", in.DirectResponse)
		ok = cr.direct != nil && ok
	default:
		cr.dests = b.compileDestinations(vs, field, in.Route)
		ok = cr.dests != nil && ok
	}
	if !ok {
		return nil
	}
	cr.rewrite = policy.finalRewrite()
	b.reportShadowedAuthority(cr)
	return cr
}

// reportShadowedAuthority warns about destination authorities that the
// route's own authority rewrite overrides (as in Envoy, where the route's
// host rewrite is applied after the weighted cluster's).
func (b *builder) reportShadowedAuthority(cr *compiledRoute) {
	if cr.rewrite == nil || cr.rewrite.Authority == "" {
		return
	}
	for _, d := range cr.dests {
		if d.authority != "" {
			b.report(&cr.from.Meta, diag.Warning, CodeAuthority, strings.TrimSuffix(d.field, ".destination")+".headers.request",
				fmt.Sprintf("the route rewrites the authority to %q, which overrides this destination's %q", cr.rewrite.Authority, d.authority),
				"rewrite the authority in one place")
		}
	}
}

// compileDestinations resolves the weighted destinations of a route.
// Weights are relative. A single destination takes all traffic whatever
// its weight; with several, weight-0 destinations are dropped, and all
// weights 0 is an error, as Istio validates.
func (b *builder) compileDestinations(vs *resource.VirtualService, field string, in []*networkingv1.HTTPRouteDestination) []compiledDest {
	var out []compiledDest
	ok := true
	for j, d := range in {
		dfield := resource.JoinIndex(field+".route", j)
		if d.GetDestination().GetHost() == "" {
			b.report(&vs.Meta, diag.Error, CodeNoDestinationHost, dfield+".destination.host",
				"the destination has no host; the route is dropped", "")
			ok = false
			continue
		}
		if d.Weight < 0 {
			b.report(&vs.Meta, diag.Error, CodeBadWeight, dfield+".weight",
				fmt.Sprintf("weight %d is negative; the route is dropped", d.Weight), "")
			ok = false
			continue
		}
		cd := compiledDest{
			field:  dfield + ".destination",
			host:   resolveShortName(d.Destination.Host, vs.Namespace, b.id.DomainSuffix),
			subset: d.Destination.Subset,
			port:   d.Destination.GetPort().GetNumber(),
			weight: uint32(d.Weight),
		}
		if d.Headers != nil {
			var good bool
			cd.headers, cd.authority, good = b.compileHeaders(vs, dfield+".headers", d.Headers)
			if !good {
				ok = false
				continue
			}
		}
		out = append(out, cd)
	}
	if !ok {
		return nil
	}
	if len(out) == 1 {
		out[0].weight = 100
		return out
	}
	kept := out[:0]
	for _, d := range out {
		if d.weight > 0 {
			kept = append(kept, d)
		}
	}
	if len(kept) == 0 {
		b.report(&vs.Meta, diag.Error, CodeZeroWeights, field+".route",
			"every destination has weight 0, so no request could be routed; the route is dropped",
			"give at least one destination a positive weight")
		return nil
	}
	return kept
}

// instantiate builds the snapshot routes of a VirtualService for one
// listener on behalf of a set of Gateways. Like Istio, it emits one route
// per applicable match (a route without matches is one route matching
// everything) and stops after the first route that matches everything:
// later routes of the same VirtualService could never be reached.
func (b *builder) instantiate(cvs *compiledVS, port uint32, tls bool, gateways map[string]bool) []*snapshot.Route {
	var out []*snapshot.Route
	for k, cr := range cvs.routes {
		catchAll := false
		if len(cr.matches) == 0 {
			out = append(out, b.snapshotRoute(cvs, cr, nil, port, tls))
			catchAll = true
		}
		for m := range cr.matches {
			cm := &cr.matches[m]
			if !cm.appliesTo(port, gateways, b.id) {
				continue
			}
			out = append(out, b.snapshotRoute(cvs, cr, cm, port, tls))
			if cm.catchAll {
				catchAll = true
				break
			}
		}
		if catchAll {
			for _, later := range cvs.routes[k+1:] {
				b.report(&later.from.Meta, diag.Warning, CodeUnreachableRoute, later.field,
					fmt.Sprintf("the route is never used on port %d: route %q before it matches every request there", port, cr.name),
					"put more specific routes first")
			}
			break
		}
	}
	return out
}

// snapshotRoute builds one snapshot route for a listener port. Header
// operations and CORS apply whatever the action (Envoy applies them to
// local replies too); a fault applies to forwarding and direct-response
// routes; the rest only to forwarding routes.
func (b *builder) snapshotRoute(cvs *compiledVS, cr *compiledRoute, cm *compiledMatch, port uint32, tls bool) *snapshot.Route {
	p := cr.policy
	out := &snapshot.Route{
		Name:           cr.name,
		VirtualService: cvs.key,
		Delegate:       cr.delegate,
		Headers:        p.headers,
		CORS:           p.cors,
	}
	if cm != nil {
		out.Matches = []snapshot.Match{cm.match}
	}
	switch {
	case cr.redirect != nil:
		out.Redirect = redirect(cr.redirect, port, tls)
	case cr.direct != nil:
		out.DirectResponse = cr.direct
		out.Fault = p.fault
	default:
		out.Fault = p.fault
		out.Timeout = p.timeout
		out.Rewrite = cr.rewrite
		routeAuthority := cr.rewrite != nil && cr.rewrite.Authority != ""
		out.Destinations = make([]snapshot.WeightedCluster, len(cr.dests))
		for i := range cr.dests {
			d := &cr.dests[i]
			wc := snapshot.WeightedCluster{
				Cluster: b.resolveDestination(cr.from, d, port),
				Weight:  d.weight,
				Headers: d.headers,
			}
			if !routeAuthority {
				wc.Authority = d.authority
			}
			out.Destinations[i] = wc
		}
		out.Mirrors = b.routeMirrors(p, port)
		out.Retry = b.routeRetry(p, out.Destinations)
	}
	return out
}

// isCatchAllRoute reports whether a snapshot route matches every request.
func isCatchAllRoute(r *snapshot.Route) bool {
	return len(r.Matches) == 0 || isCatchAll(&r.Matches[0])
}
