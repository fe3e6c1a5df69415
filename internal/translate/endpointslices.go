package translate

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// kubeIndex looks up the Kubernetes objects endpoints are built from. It
// is built once per Build, on first use.
type kubeIndex struct {
	// slices by "namespace/service" (the kubernetes.io/service-name label).
	slices map[string][]*resource.EndpointSlice
	// pods by "cluster/namespace/name", nodes by "cluster/name".
	pods  map[string]*resource.Pod
	nodes map[string]*resource.Node
}

func (b *builder) kubeObjects() *kubeIndex {
	if b.kube != nil {
		return b.kube
	}
	x := &kubeIndex{
		slices: map[string][]*resource.EndpointSlice{},
		pods:   make(map[string]*resource.Pod, len(b.in.Pods)),
		nodes:  make(map[string]*resource.Node, len(b.in.Nodes)),
	}
	for _, s := range b.in.EndpointSlices {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := s.Namespace + "/" + svc
			x.slices[k] = append(x.slices[k], s)
		}
	}
	for _, p := range b.in.Pods {
		x.pods[b.clusterOf(p.Cluster)+"/"+p.Namespace+"/"+p.Name] = p
	}
	for _, n := range b.in.Nodes {
		x.nodes[b.clusterOf(n.Cluster)+"/"+n.Name] = n
	}
	b.kube = x
	return x
}

// clusterOf names the cluster of an object read from one; objects from
// files belong to the gateway's own.
func (b *builder) clusterOf(cluster string) string {
	if cluster == "" {
		return b.id.Cluster
	}
	return cluster
}

// sliceEndpoints returns the endpoints the EndpointSlices of Service s
// list, the way Istio's Kubernetes registry builds them:
//
//   - health from the endpoint's conditions: ready (unset means ready) is
//     HEALTHY; terminating but still serving is DRAINING, which finishes
//     the requests it has and gets no new ones; anything else is
//     UNHEALTHY and kept, so it counts against the priority's health as
//     in Envoy;
//   - labels from the Pod the endpoint targets, so DestinationRule subsets
//     select Pods; an endpoint whose Pod is not known yet is left out
//     until it is, as Istio does;
//   - locality from the Pod's topology.istio.io/locality label, else from
//     its Node's topology labels (region, zone, topology.istio.io/subzone),
//     else from the endpoint's zone;
//   - the slice's cluster, so several clusters' endpoints of one Service
//     are told apart.
//
// Topology hints are ignored, as Istio ignores them: locality load
// balancing does that job. An address listed twice (a Pod moving between
// slices) is kept once, with its best health.
func (b *builder) sliceEndpoints(s *resource.Service, ports []corev1.ServicePort) []*endpoint {
	x := b.kubeObjects()
	type candidate struct {
		ep   *endpoint
		rank int
	}
	byAddr := map[string]candidate{}
	var order []string
	for _, slice := range x.slices[s.Namespace+"/"+s.Name] {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
			b.report(&slice.Meta, diag.Warning, CodeEndpointSlice, "addressType",
				fmt.Sprintf("address type %s is not supported; the slice's endpoints are ignored, as in Istio", slice.AddressType), "")
			continue
		}
		cluster := b.clusterOf(slice.Cluster)
		for i := range slice.Endpoints {
			e := &slice.Endpoints[i]
			ep := b.sliceEndpoint(x, slice, cluster, e)
			if ep == nil {
				continue
			}
			for _, p := range ports {
				if port, ok := slicePort(slice.Ports, p); ok {
					ep.ports.set(uint32(p.Port), port)
				}
			}
			rank := healthRank(ep.health)
			for _, addr := range e.Addresses {
				a, err := netip.ParseAddr(addr)
				if err != nil {
					continue // the API server validates addresses; files are not read
				}
				key := cluster + "/" + a.String()
				if prev, ok := byAddr[key]; ok && prev.rank <= rank {
					continue
				}
				if _, ok := byAddr[key]; !ok {
					order = append(order, key)
				}
				one := *ep
				one.host = a.String()
				byAddr[key] = candidate{ep: &one, rank: rank}
			}
		}
	}
	out := make([]*endpoint, 0, len(order))
	for _, k := range order {
		out = append(out, byAddr[k].ep)
	}
	return out
}

// sliceEndpoint builds the endpoint for e without its address and ports,
// or returns nil when its Pod is not known yet.
func (b *builder) sliceEndpoint(x *kubeIndex, slice *resource.EndpointSlice, cluster string, e *discoveryv1.Endpoint) *endpoint {
	var pod *resource.Pod
	origin := "EndpointSlice " + nsName(&slice.Meta)
	if ref := e.TargetRef; ref != nil && ref.Kind == "Pod" {
		ns := cmp.Or(ref.Namespace, slice.Namespace)
		if pod = x.pods[cluster+"/"+ns+"/"+ref.Name]; pod == nil {
			return nil
		}
		origin = "Pod " + ns + "/" + ref.Name
	}
	var labels map[string]string
	nodeName := derefString(e.NodeName)
	if pod != nil {
		labels = pod.Labels
		nodeName = cmp.Or(nodeName, pod.NodeName)
	}
	locality := endpointLocality(labels, x.nodes[cluster+"/"+nodeName], derefString(e.Zone))
	network := labels[labelNetwork]
	if network == "" {
		network = b.defaultNetwork()
	}
	return &endpoint{
		labels:   copyLabels(labels),
		topology: topologyLabels(labels, locality, cluster, nodeName, network),
		locality: locality,
		network:  network,
		cluster:  cluster,
		weight:   1,
		origin:   origin,
		health:   endpointHealth(e.Conditions),
		identity: b.podIdentity(pod),
	}
}

// endpointHealth maps EndpointSlice conditions to an endpoint's health;
// HEALTHY is left empty, as in the Snapshot.
func endpointHealth(c discoveryv1.EndpointConditions) snapshot.EndpointHealth {
	switch {
	case c.Ready == nil || *c.Ready:
		return ""
	case c.Terminating != nil && *c.Terminating && c.Serving != nil && *c.Serving:
		return snapshot.Draining
	}
	return snapshot.Unhealthy
}

// healthRank orders health for choosing between duplicates: lower is
// better.
func healthRank(h snapshot.EndpointHealth) int {
	switch h {
	case "", snapshot.Healthy:
		return 0
	case snapshot.Draining:
		return 1
	}
	return 2
}

// endpointLocality is where a Kubernetes endpoint runs: the Pod's
// locality label (dots for slashes, as Kubernetes labels cannot hold
// "/"), else its Node's topology labels, else the zone the slice gives.
func endpointLocality(podLabels map[string]string, node *resource.Node, zone string) snapshot.Locality {
	for _, key := range []string{labelLocality, labelLegacyLocality} {
		if v, ok := podLabels[key]; ok && v != "" {
			if !strings.Contains(v, "/") {
				v = strings.ReplaceAll(v, ".", "/")
			}
			return parseLocality(v)
		}
	}
	if node != nil {
		return snapshot.Locality{
			Region:  node.Labels[labelRegion],
			Zone:    node.Labels[labelZone],
			Subzone: node.Labels[labelSubzone],
		}
	}
	return snapshot.Locality{Zone: zone}
}

// slicePort is the port an EndpointSlice serves Service port p on: the
// EndpointSlice controller names each slice port after its Service port
// (unnamed for a Service's single unnamed port) and resolves the
// targetPort into its number.
func slicePort(ports []discoveryv1.EndpointPort, p corev1.ServicePort) (uint32, bool) {
	i := slices.IndexFunc(ports, func(sp discoveryv1.EndpointPort) bool {
		proto := corev1.ProtocolTCP
		if sp.Protocol != nil {
			proto = *sp.Protocol
		}
		return derefString(sp.Name) == p.Name && proto == corev1.ProtocolTCP && sp.Port != nil
	})
	if i < 0 || *ports[i].Port <= 0 || *ports[i].Port > 65535 {
		return 0, false
	}
	return uint32(*ports[i].Port), true
}
