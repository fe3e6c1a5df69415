package translate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// annotationUpstream on a DestinationRule chooses where the gateway sends
// the host's requests: "endpoints" (the default: pick pod or workload
// addresses, as Istio's gateway does) or "service": the Service's own
// address (its cluster IP, or the ServiceEntry's first address) with Host
// set to the service's name. The service mode is for meshgate as the
// third-party ingress of an Istio mesh with a sidecar beside it: the
// sidecar intercepts the service address, then applies the mesh's mTLS,
// routing and policy, which a gateway picking pod IPs would bypass. Set
// on a DestinationRule for host "*" in the root namespace, it applies to
// every service.
const annotationUpstream = "meshgate.io/upstream"

// applyServiceUpstream turns the clusters whose DestinationRule asks for
// the service mode into clusters with one endpoint, the service address,
// and a Host rewrite to the service name.
func (b *builder) applyServiceUpstream(clusters []*snapshot.Cluster) {
	for _, c := range clusters {
		ref, ok := b.refs[c.Name]
		if !ok {
			continue
		}
		rule := b.destinationRule(ref.svc)
		if dr := b.upstreamMode(rule); dr != nil {
			b.serviceUpstream(c, ref, dr)
		}
	}
}

// upstreamMode returns the rule that asks for the service mode, or nil.
// The oldest rule of the merged ones that sets the annotation decides.
func (b *builder) upstreamMode(rule *mergedRule) *resource.DestinationRule {
	if rule == nil {
		return nil
	}
	for _, dr := range rule.members {
		v, ok := dr.Annotations[annotationUpstream]
		if !ok {
			continue
		}
		switch v {
		case "service":
			return dr
		case "endpoints", "":
			return nil
		}
		b.report(&dr.Meta, diag.Error, CodeUpstreamMode, resource.JoinKey("metadata.annotations", annotationUpstream),
			fmt.Sprintf("%q is neither \"service\" nor \"endpoints\"; requests for %s go to its endpoints", v, rule.host),
			`write "service" to send to the service address, for a sidecar to route`)
		return nil
	}
	return nil
}

func (b *builder) serviceUpstream(c *snapshot.Cluster, ref clusterRef, dr *resource.DestinationRule) {
	field := resource.JoinKey("metadata.annotations", annotationUpstream)
	host, origin := b.serviceAddress(ref.svc)
	if host == "" {
		host = ref.svc.host
		b.report(&dr.Meta, diag.Warning, CodeUpstreamAddress, field,
			fmt.Sprintf("%s has no cluster IP or address; the gateway dials its name, %s, which must resolve", ref.svc.host, host),
			"give the Service a clusterIP (it has one in a cluster) or the ServiceEntry an address")
		origin = "service name"
	}
	if ref.subset != "" || c.Outlier != nil || c.LocalityWeighted || c.Spillover != nil {
		b.report(&dr.Meta, diag.Warning, CodeUpstreamPolicy, field,
			fmt.Sprintf("with the service upstream, subsets, locality, outlier detection and spillover of %s are left to the mesh; "+
				"the gateway sends all of its traffic to %s", ref.svc.host, host),
			"let the mesh's DestinationRule and VirtualService for the host choose subsets")
	}
	c.Endpoints = []snapshot.Endpoint{{
		Address: net.JoinHostPort(host, strconv.FormatUint(uint64(ref.port.number), 10)),
		Weight:  1,
		Origin:  origin,
	}}
	c.HostRewrite = ref.svc.host
	// Endpoint-level policies have one address to act on; ejecting it or
	// ranking localities would only take the service down.
	c.Outlier, c.LocalityWeighted, c.Spillover, c.Locality = nil, false, nil, nil
}

// serviceAddress returns the address a sidecar intercepts for svc: a
// Kubernetes Service's cluster IP, or a ServiceEntry's first single
// address. It returns "" when there is none (headless, or not given).
func (b *builder) serviceAddress(svc *service) (string, string) {
	for _, s := range b.in.Services {
		if &s.Meta != svc.meta || s.Spec == nil {
			continue
		}
		for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if a, err := netip.ParseAddr(ip); err == nil {
				return a.String(), "Service " + nsName(&s.Meta) + " cluster IP"
			}
		}
		return "", ""
	}
	for _, se := range b.in.ServiceEntries {
		if &se.Meta != svc.meta || se.Spec == nil {
			continue
		}
		for _, addr := range se.Spec.Addresses {
			if a, err := netip.ParseAddr(addr); err == nil {
				return a.String(), "ServiceEntry " + nsName(&se.Meta) + " address"
			}
			if p, err := netip.ParsePrefix(addr); err == nil && p.IsSingleIP() {
				return p.Addr().String(), "ServiceEntry " + nsName(&se.Meta) + " address"
			}
		}
	}
	return "", ""
}
