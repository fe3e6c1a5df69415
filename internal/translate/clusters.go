package translate

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/gatewayapi"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// defaultConnectTimeout is Istio's mesh default connectTimeout.
const defaultConnectTimeout = 10 * time.Second

// clusterRef is a cluster some route points at whose service, port and
// subset all exist.
type clusterRef struct {
	svc    *service
	port   servicePort
	subset string
}

// clusterName is Istio's name for an outbound cluster,
// "outbound|<port>|<subset>|<host>".
func clusterName(port uint32, subset, host string) string {
	return "outbound|" + strconv.FormatUint(uint64(port), 10) + "|" + subset + "|" + host
}

// resolveDestination returns the cluster a destination points at on a
// listener and records the cluster when it can be built. Like Envoy under
// Istio, a destination whose service, port or subset does not exist still
// points at the cluster it names: the cluster is missing, and requests
// routed to it are answered 503 with flag NC. Such a destination is
// reported; the route is kept, since its other destinations may work.
// d.field is the path of the Destination object in vs.
func (b *builder) resolveDestination(vs *resource.VirtualService, d *compiledDest, listenerPort uint32) string {
	svc := b.services[d.host]
	port := d.port
	if port == 0 {
		// "If a service exposes only a single port it is not required to
		// explicitly select the port." Otherwise Istio uses the port of
		// the listener the route is built for.
		if svc != nil && len(svc.ports) == 1 {
			port = svc.ports[0].number
		} else {
			port = listenerPort
			if svc != nil {
				b.report(&vs.Meta, diag.Warning, CodeAmbiguousPort, d.field,
					fmt.Sprintf("the destination has no port and %s has %d ports; the gateway port %d is used, as in Istio",
						d.host, len(svc.ports), listenerPort),
					"set destination.port.number")
			}
		}
	}
	name := clusterName(port, d.subset, d.host)
	if svc == nil && d.host == gatewayapi.InvalidBackendHost {
		// A Gateway API backendRef that cannot be used: the conversion
		// has reported it, naming the reference; its share fails.
		return name
	}
	if svc == nil {
		if b.reportHiddenService(vs, d) {
			return name
		}
		hint := "define it with a Service or a ServiceEntry, or fix the host"
		if alt := d.host + ".svc." + b.id.DomainSuffix; b.services[alt] != nil {
			hint = fmt.Sprintf("did you mean %s? Istio takes a host with dots as written", alt)
		}
		b.report(&vs.Meta, diag.Warning, CodeUnknownService, d.field+".host",
			fmt.Sprintf("no Service or ServiceEntry defines host %s; %s", d.host, d.noCluster()), hint)
		return name
	}
	sp, ok := svc.port(port)
	if !ok {
		b.report(&vs.Meta, diag.Warning, CodeUnknownPort, d.field+".port.number",
			fmt.Sprintf("%s has no port %d; %s", d.host, port, d.noCluster()),
			"use a port the service defines (the Service port, not the targetPort)")
		return name
	}
	if d.subset != "" {
		rule := b.destinationRule(svc)
		if rule == nil {
			b.report(&vs.Meta, diag.Warning, CodeUnknownSubset, d.field+".subset",
				fmt.Sprintf("subset %q needs a DestinationRule for %s, and there is none; %s",
					d.subset, d.host, d.noCluster()),
				"define the subset in a DestinationRule for the host")
			return name
		}
		if rule.subset(d.subset) == nil {
			b.report(&vs.Meta, diag.Warning, CodeUnknownSubset, d.field+".subset",
				fmt.Sprintf("DestinationRule %s, which applies to %s, defines no subset %q; %s",
					nsName(&rule.first.Meta), d.host, d.subset, d.noCluster()),
				"add the subset to that DestinationRule")
			return name
		}
	}
	b.refs[name] = clusterRef{svc: svc, port: sp, subset: d.subset}
	return name
}

// noCluster says what happens to requests sent to a destination whose
// cluster does not exist.
func (d *compiledDest) noCluster() string {
	if d.mirror {
		return "requests mirrored here are dropped (no cluster)"
	}
	return "requests routed here get 503 (no cluster)"
}

// buildClusters builds one cluster per referenced (service, port, subset),
// sorted by name.
func (b *builder) buildClusters() []*snapshot.Cluster {
	out := make([]*snapshot.Cluster, 0, len(b.refs))
	for _, name := range sortedKeys(b.refs) {
		out = append(out, b.buildCluster(name, b.refs[name]))
	}
	return out
}

func (b *builder) buildCluster(name string, ref clusterRef) *snapshot.Cluster {
	rule := b.destinationRule(ref.svc)
	var subset *subsetDef
	if ref.subset != "" && rule != nil {
		subset = rule.subset(ref.subset)
	}
	policy := clusterPolicy(rule, subset, ref.port.number)

	c := &snapshot.Cluster{
		Name:             name,
		Service:          ref.svc.host,
		Port:             ref.port.number,
		Subset:           ref.subset,
		LB:               b.lbPolicy(policy.lb, policy.lbFrom),
		UpstreamProtocol: upstreamProtocol(ref.port, policy.pool),
		Endpoints:        []snapshot.Endpoint{},
	}
	c.Limits, c.ConnectTimeout = b.connectionLimits(policy.pool, policy.poolFrom, c.UpstreamProtocol)
	switch {
	case subset != nil:
		c.DestinationRule = nsName(&subset.from.Meta)
	case rule != nil && rule.policyFrom != nil:
		c.DestinationRule = nsName(&rule.policyFrom.Meta)
	case rule != nil:
		c.DestinationRule = nsName(&rule.first.Meta)
	}
	var selector map[string]string
	if subset != nil {
		selector = subset.spec.Labels
	}
	serving := 0
	// One allocation for the candidates, instead of growing a slice of
	// large values endpoint by endpoint.
	members := make([]member, 0, len(ref.svc.endpoints))
	for _, ep := range ref.svc.endpoints {
		addr, ok := ep.address(ref.port.number)
		if !ok {
			continue
		}
		serving++
		// Subsets select on the labels with the topology labels added, as
		// in Istio, so a subset may pick a zone.
		if !labelsMatch(selector, ep.topology) {
			continue
		}
		members = append(members, member{ep: ep, out: snapshot.Endpoint{
			Address: addr,
			// ep.labels is translate's own copy and read-only from here
			// on, so the clusters of one service share it.
			Labels:   ep.labels,
			Locality: ep.locality,
			Network:  ep.network,
			Weight:   ep.weight,
			Origin:   ep.origin,
			Cluster:  ep.cluster,
			Health:   ep.health,
			Identity: ep.identity,
		}})
	}
	sort.SliceStable(members, func(i, j int) bool {
		a, e := members[i].out, members[j].out
		if a.Address != e.Address {
			return a.Address < e.Address
		}
		return a.Origin < e.Origin
	})
	if len(members) == 0 {
		b.reportEmptyCluster(ref, subset, serving)
	}

	members = b.applyLocality(c, ref.svc, policy, members)
	c.Endpoints = make([]snapshot.Endpoint, 0, len(members))
	for _, m := range members {
		c.Endpoints = append(c.Endpoints, m.out)
	}
	c.Outlier = b.outlierPolicy(policy.outlier, policy.outlierFrom)
	c.PanicThreshold = b.panicThreshold(ref.svc, policy.outlier, policy.outlierFrom)
	b.reportEjectionCap(c, policy.outlierFrom)
	c.Spillover = b.spillover(rule)
	c.TLS = b.upstreamTLS(c, policy)
	if c.TLS != nil && c.TLS.Mode == snapshot.UpstreamIstioMutual {
		c.Identities = serviceIdentities(ref.svc)
	}
	return c
}

func (b *builder) reportEmptyCluster(ref clusterRef, subset *subsetDef, serving int) {
	if subset != nil && serving > 0 {
		b.report(&subset.from.Meta, diag.Warning, CodeEmptySubset, subset.field+".labels",
			fmt.Sprintf("subset %q selects none of the %d endpoints of %s port %d; requests routed to it get 503 (no healthy upstream)",
				ref.subset, serving, ref.svc.host, ref.port.number),
			"the subset labels must all be labels of the endpoints")
		return
	}
	hint := "add WorkloadEntries whose labels match the Service selector, in the Service's namespace"
	field := "spec.selector"
	if ref.svc.meta.Kind == resource.KindServiceEntry {
		hint, field = "list endpoints or set a workloadSelector that matches WorkloadEntries", "spec"
	}
	b.report(ref.svc.meta, diag.Warning, CodeNoEndpoints, field,
		fmt.Sprintf("%s has no endpoints for port %d; requests routed to it get 503 (no healthy upstream)",
			ref.svc.host, ref.port.number), hint)
}

// upstreamProtocol is how a cluster talks to its endpoints: HTTP/2 with
// prior knowledge for gRPC and http2 ports; otherwise the client's
// protocol when connectionPool.http.useClientProtocol is set, HTTP/2 when
// h2UpgradePolicy is UPGRADE, else HTTP/1.1.
func upstreamProtocol(port servicePort, pool *networkingv1.ConnectionPoolSettings) snapshot.UpstreamProtocol {
	http := pool.GetHttp()
	switch {
	case port.h2:
		return snapshot.UpstreamH2C
	case http.GetUseClientProtocol():
		return snapshot.UpstreamClientProtocol
	case http.GetH2UpgradePolicy() == networkingv1.ConnectionPoolSettings_HTTPSettings_UPGRADE:
		return snapshot.UpstreamH2C
	}
	return snapshot.UpstreamHTTP1
}
