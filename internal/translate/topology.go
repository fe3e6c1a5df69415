package translate

import (
	"strings"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// Topology labels. Istio compares them in failoverPriority like any other
// label, but synthesises them from where a workload runs rather than from
// what its owner wrote (API-DR failoverPriority, API-LBL).
const (
	labelNetwork  = "topology.istio.io/network"
	labelCluster  = "topology.istio.io/cluster"
	labelRegion   = "topology.kubernetes.io/region"
	labelZone     = "topology.kubernetes.io/zone"
	labelSubzone  = "topology.istio.io/subzone"
	labelHostname = "kubernetes.io/hostname"
	// labelLocality overrides a workload's locality as
	// "region.zone.subzone" (Kubernetes labels cannot hold "/");
	// labelLegacyLocality is its older spelling, still read by Istio.
	labelLocality       = "topology.istio.io/locality"
	labelLegacyLocality = "istio-locality"
)

// position is where a workload stands, as locality-aware load balancing
// sees it: its locality, for localityLbSetting, and its labels with the
// topology labels added, for failoverPriority.
type position struct {
	locality snapshot.Locality
	labels   map[string]string
}

// topologyLabels returns own plus the topology labels of a workload, the
// way Istio augments both endpoint and proxy labels: region, zone,
// subzone, cluster and node (kubernetes.io/hostname) replace what the
// owner wrote when known, while the network label only fills a gap,
// because a workload's own network label is one of the sources of its
// network in the first place. The result is a new map.
func topologyLabels(own map[string]string, loc snapshot.Locality, cluster, node, network string) map[string]string {
	out := make(map[string]string, len(own)+6)
	for k, v := range own {
		out[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set(labelRegion, loc.Region)
	set(labelZone, loc.Zone)
	set(labelSubzone, loc.Subzone)
	set(labelCluster, cluster)
	set(labelHostname, node)
	if out[labelNetwork] == "" {
		set(labelNetwork, network)
	}
	return out
}

// indexNamespaces records the Bundle's Namespaces by name and the
// gateway's own position. It runs before anything reads either.
func (b *builder) indexNamespaces() {
	b.namespaces = make(map[string]*resource.Namespace, len(b.in.Namespaces))
	for _, ns := range b.in.Namespaces {
		b.namespaces[ns.Name] = ns
	}
	network := b.id.Network
	if network == "" {
		network = b.defaultNetwork()
	}
	b.gateway = position{
		locality: b.id.Locality,
		// Files say nothing of the node the gateway runs on; a
		// kubernetes.io/hostname in its labels is used as written.
		labels: topologyLabels(b.id.Labels, b.id.Locality, b.id.Cluster, "", network),
	}
}

// defaultNetwork is the mesh's default network: the topology.istio.io/network
// label of the Istio system namespace, which "establishes a default
// network for pods managed by the control plane" (API-LBL).
func (b *builder) defaultNetwork() string {
	if ns := b.namespaces[rootNamespace]; ns != nil {
		return ns.Labels[labelNetwork]
	}
	return ""
}

// workloadLocality is a WorkloadEntry's locality as Istio reads it: the
// locality field, else the topology.istio.io/locality label (then the
// legacy istio-locality label) with dots standing for slashes.
func workloadLocality(we *networkingv1.WorkloadEntry) snapshot.Locality {
	if we.Locality != "" {
		return parseLocality(we.Locality)
	}
	for _, key := range []string{labelLocality, labelLegacyLocality} {
		if v, ok := we.Labels[key]; ok {
			if !strings.Contains(v, "/") {
				v = strings.ReplaceAll(v, ".", "/")
			}
			return parseLocality(v)
		}
	}
	return snapshot.Locality{}
}

// workloadNetwork is a WorkloadEntry's network as Istio reads it: the
// network field, else its topology.istio.io/network label, else the
// mesh's default network.
func (b *builder) workloadNetwork(we *networkingv1.WorkloadEntry) string {
	if we.Network != "" {
		return we.Network
	}
	if n := we.Labels[labelNetwork]; n != "" {
		return n
	}
	return b.defaultNetwork()
}
