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

// maxDirectResponseBody is Envoy's max_direct_response_body_size_bytes as
// Istio configures it: 1 MiB.
const maxDirectResponseBody = 1 << 20

// compiledRoute is one HTTPRoute of a VirtualService, checked and
// translated once. Listener-dependent parts (which matches apply, omitted
// destination ports, redirect ports derived from the request) are settled
// by instantiate.
type compiledRoute struct {
	index int
	name  string
	// matches is empty when the route has no match: it matches everything.
	matches  []compiledMatch
	dests    []compiledDest
	redirect *networkingv1.HTTPRedirect
	direct   *snapshot.DirectResponse
}

// compiledDest is one weighted destination with its host resolved.
type compiledDest struct {
	field  string
	host   string
	subset string
	// port is 0 when the destination names none.
	port   uint32
	weight uint32
}

// compiledVS is a VirtualService's HTTP routes, in order. Routes that
// failed to compile are absent.
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
		if cr := b.compileRoute(vs, i, r); cr != nil {
			out.routes = append(out.routes, cr)
		}
	}
	return out
}

// compileRoute checks and translates spec.http[i]. It returns nil, with a
// diagnostic, when the route cannot be served; the rest of the
// VirtualService still is.
func (b *builder) compileRoute(vs *resource.VirtualService, i int, in *networkingv1.HTTPRoute) *compiledRoute {
	field := resource.JoinIndex("spec.http", i)
	name := in.Name
	if name == "" {
		name = vs.Namespace + "/" + vs.Name + "/" + strconv.Itoa(i)
	}
	out := &compiledRoute{index: i, name: name}

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
	switch {
	case len(actions) == 0:
		b.report(&vs.Meta, diag.Error, CodeRouteAction, field,
			"the route has no route, redirect, directResponse or delegate; it is dropped", "")
		return nil
	case len(actions) > 1:
		b.report(&vs.Meta, diag.Error, CodeRouteAction, field,
			fmt.Sprintf("the route sets %s; exactly one is allowed, so it is dropped", strings.Join(actions, " and ")), "")
		return nil
	case in.Delegate != nil:
		b.report(&vs.Meta, diag.Warning, CodeDelegate, field+".delegate",
			"delegate routes are not supported yet; the route is dropped", "copy the delegate's routes into this VirtualService")
		return nil
	}

	valid := true
	for j, m := range in.Match {
		if m == nil {
			continue
		}
		cm, outcome := b.compileMatch(vs, resource.JoinIndex(field+".match", j), m)
		switch outcome {
		case matchOK:
			out.matches = append(out.matches, cm)
		case matchInvalid:
			valid = false
		}
	}
	if !valid {
		return nil
	}
	if len(in.Match) > 0 && len(out.matches) == 0 {
		// Every match was dropped as never applying: so is the route.
		return nil
	}

	switch {
	case in.Redirect != nil:
		if !b.checkRedirect(vs, field+".redirect", in.Redirect) {
			return nil
		}
		out.redirect = in.Redirect
	case in.DirectResponse != nil:
		out.direct = b.directResponse(vs, field+".directResponse", in.DirectResponse)
		if out.direct == nil {
			return nil
		}
	default:
		out.dests = b.compileDestinations(vs, field, in.Route)
		if out.dests == nil {
			return nil
		}
	}
	return out
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
		out = append(out, compiledDest{
			field:  dfield,
			host:   resolveShortName(d.Destination.Host, vs.Namespace, b.id.DomainSuffix),
			subset: d.Destination.Subset,
			port:   d.Destination.GetPort().GetNumber(),
			weight: uint32(d.Weight),
		})
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

// redirectCodeSupported reports whether Envoy can send a redirect code (0
// is the default, 301).
func redirectCodeSupported(code uint32) bool {
	switch code {
	case 0, 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func (b *builder) checkRedirect(vs *resource.VirtualService, field string, in *networkingv1.HTTPRedirect) bool {
	if !redirectCodeSupported(in.RedirectCode) {
		b.report(&vs.Meta, diag.Error, CodeRedirect, field+".redirectCode",
			fmt.Sprintf("redirect code %d is not supported; the route is dropped", in.RedirectCode),
			"use 301, 302, 303, 307 or 308")
		return false
	}
	if in.Uri != "" && in.PrefixRewrite != "" {
		b.report(&vs.Meta, diag.Error, CodeRedirect, field+".prefixRewrite",
			"only one of uri and prefixRewrite can be set; the route is dropped", "")
		return false
	}
	return true
}

// redirect builds the redirect for a listener. The default code is 301.
// derivePort FROM_REQUEST_PORT is the listener's port, since routes are
// built per port; as in Istio, an explicit or derived port that is the
// scheme's default (80 for http, 443 for https) is left out of Location.
// The scheme, when the redirect keeps the request's, is https on a
// listener that terminates TLS.
func redirect(in *networkingv1.HTTPRedirect, listenerPort uint32, listenerTLS bool) *snapshot.Redirect {
	out := &snapshot.Redirect{
		URI:           in.Uri,
		Authority:     in.Authority,
		Scheme:        in.Scheme,
		Code:          in.RedirectCode,
		PrefixRewrite: in.PrefixRewrite,
	}
	if out.Code == 0 {
		out.Code = 301
	}
	if in.RedirectPort == nil {
		return out
	}
	switch p := in.RedirectPort.(type) {
	case *networkingv1.HTTPRedirect_Port:
		out.Port = p.Port
	case *networkingv1.HTTPRedirect_DerivePort:
		if p.DerivePort == networkingv1.HTTPRedirect_FROM_REQUEST_PORT {
			out.Port = listenerPort
		}
	}
	scheme := in.Scheme
	if scheme == "" {
		scheme = "http"
		if listenerTLS {
			scheme = "https"
		}
	}
	if (out.Port == 80 && scheme == "http") || (out.Port == 443 && scheme == "https") {
		out.Port = 0
	}
	return out
}

func (b *builder) directResponse(vs *resource.VirtualService, field string, in *networkingv1.HTTPDirectResponse) *snapshot.DirectResponse {
	if in.Status < 200 || in.Status > 599 {
		b.report(&vs.Meta, diag.Error, CodeDirectResponse, field+".status",
			fmt.Sprintf("status %d is not between 200 and 599; the route is dropped", in.Status), "")
		return nil
	}
	out := &snapshot.DirectResponse{Status: in.Status}
	switch body := in.GetBody().GetSpecifier().(type) {
	case *networkingv1.HTTPBody_String_:
		out.Body = []byte(body.String_)
	case *networkingv1.HTTPBody_Bytes:
		out.Body = append([]byte(nil), body.Bytes...)
	}
	if len(out.Body) > maxDirectResponseBody {
		b.report(&vs.Meta, diag.Error, CodeDirectResponse, field+".body",
			fmt.Sprintf("the body is %d bytes, over the 1 MiB limit; the route is dropped", len(out.Body)), "")
		return nil
	}
	return out
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
				b.report(&cvs.vs.Meta, diag.Warning, CodeUnreachableRoute, resource.JoinIndex("spec.http", later.index),
					fmt.Sprintf("the route is never used on port %d: route %q before it matches every request there", port, cr.name),
					"put more specific routes first")
			}
			break
		}
	}
	return out
}

// snapshotRoute builds one snapshot route for a listener port.
func (b *builder) snapshotRoute(cvs *compiledVS, cr *compiledRoute, cm *compiledMatch, port uint32, tls bool) *snapshot.Route {
	out := &snapshot.Route{Name: cr.name, VirtualService: cvs.key}
	if cm != nil {
		out.Matches = []snapshot.Match{cm.match}
	}
	switch {
	case cr.redirect != nil:
		out.Redirect = redirect(cr.redirect, port, tls)
	case cr.direct != nil:
		out.DirectResponse = cr.direct
	default:
		out.Destinations = make([]snapshot.WeightedCluster, len(cr.dests))
		for i := range cr.dests {
			out.Destinations[i] = snapshot.WeightedCluster{
				Cluster: b.resolveDestination(cvs.vs, &cr.dests[i], port),
				Weight:  cr.dests[i].weight,
			}
		}
	}
	return out
}

// isCatchAllRoute reports whether a snapshot route matches every request.
func isCatchAllRoute(r *snapshot.Route) bool {
	return len(r.Matches) == 0 || isCatchAll(&r.Matches[0])
}
