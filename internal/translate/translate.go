package translate

import (
	"sort"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/gatewayapi"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Defaults for an Identity's empty fields. They are what a stock Istio
// installation gives its ingress gateway.
const (
	DefaultNamespace    = "istio-system"
	DefaultDomainSuffix = "cluster.local"
	// DefaultTrustDomain is Istio's default mesh trust domain.
	DefaultTrustDomain = "cluster.local"
)

// rootNamespace is the mesh root namespace (Istio's meshConfig.rootNamespace
// default). DestinationRules there apply mesh-wide.
const rootNamespace = "istio-system"

// DefaultLabels returns the labels of a stock Istio ingress gateway.
func DefaultLabels() map[string]string { return map[string]string{"istio": "ingressgateway"} }

// Identity is who this gateway is: which Gateways select it, which
// namespace it lives in (DestinationRule lookup starts there) and where it
// stands (locality, network, cluster), which locality-aware load
// balancing ranks endpoints against (locality.go).
type Identity struct {
	// Labels are the gateway workload's labels; empty means
	// DefaultLabels.
	Labels map[string]string
	// Namespace is the gateway workload's namespace; empty means
	// DefaultNamespace.
	Namespace string
	Locality  snapshot.Locality
	Network   string
	Cluster   string
	// DomainSuffix completes short host names
	// ("<name>.<namespace>.svc.<suffix>"); empty means DefaultDomainSuffix.
	DomainSuffix string
	// WorkloadCertDir holds the gateway's mesh certificate for
	// ISTIO_MUTUAL servers (cert-chain.pem, key.pem, root-cert.pem); empty
	// means DefaultWorkloadCertDir.
	WorkloadCertDir string
	// TrustDomain is the mesh's SPIFFE trust domain, which endpoint
	// identities are named in; empty means DefaultTrustDomain.
	TrustDomain string
	// ExportTo are the mesh's exportTo defaults (visibility.go).
	ExportTo ExportDefaults
	// GatewayClasses are the Gateway API gatewayClassNames this gateway
	// serves; empty means gatewayapi.DefaultClass ("istio").
	GatewayClasses []string
}

func (id Identity) withDefaults() Identity {
	if len(id.Labels) == 0 {
		id.Labels = DefaultLabels()
	}
	if id.Namespace == "" {
		id.Namespace = DefaultNamespace
	}
	if id.DomainSuffix == "" {
		id.DomainSuffix = DefaultDomainSuffix
	}
	if id.TrustDomain == "" {
		id.TrustDomain = DefaultTrustDomain
	}
	if id.WorkloadCertDir == "" {
		id.WorkloadCertDir = DefaultWorkloadCertDir
	}
	return id
}

// Build compiles a Bundle into a Snapshot for the gateway described by id.
// It never fails: every problem becomes a diagnostic, and only the object,
// server or route at fault is left out. The result is sealed and its
// diagnostics are sorted; identical inputs give identical outputs.
func Build(b *resource.Bundle, id Identity) (*snapshot.Snapshot, diag.List) {
	if b == nil {
		b = &resource.Bundle{}
	}
	id = id.withDefaults()
	// Gateway API objects become the Istio Gateways and VirtualServices
	// they stand for, as in Istio.
	b, converted := gatewayapi.Convert(b, gatewayapi.Options{Classes: id.GatewayClasses, DomainSuffix: id.DomainSuffix})
	bl := &builder{
		in:       b,
		id:       id,
		reported: map[string]bool{},
		refs:     map[string]clusterRef{},
		diags:    converted,
	}
	bl.buildRegistry()
	bl.indexDestinationRules()
	listeners := bl.buildListeners()
	bl.bindVirtualServices(listeners)

	snap := &snapshot.Snapshot{
		Listeners: make([]*snapshot.Listener, 0, len(listeners)),
		Clusters:  bl.buildClusters(),
	}
	bl.applyServiceUpstream(snap.Clusters)
	for _, l := range listeners {
		if l.served {
			snap.Listeners = append(snap.Listeners, l.out)
		}
	}
	sort.SliceStable(snap.Listeners, func(i, j int) bool {
		a, c := snap.Listeners[i], snap.Listeners[j]
		if a.Port != c.Port {
			return a.Port < c.Port
		}
		return a.Bind < c.Bind
	})
	snap.Seal()
	bl.diags.Sort()
	return snap, bl.diags
}

// builder carries the state of one Build call. It is discarded afterwards.
type builder struct {
	in *resource.Bundle
	id Identity

	diags    diag.List
	reported map[string]bool

	// services is the backend registry by host (services.go).
	services map[string]*service
	// drs indexes the DestinationRules each namespace exports, drLocal
	// those of the gateway's namespace and drRootLocal the root
	// namespace's private ones (destinationrules.go).
	drs                  map[string]*drNamespace
	drLocal, drRootLocal *drNamespace
	// hiddenServices are service hosts not exported to this gateway
	// (visibility.go).
	hiddenServices map[string]hiddenService
	// gateways are the Gateways in the Bundle by "namespace/name";
	// selected is the subset whose selector matches this gateway.
	gateways map[string]*resource.Gateway
	selected map[string]bool
	// refs are the clusters some route points at, by cluster name.
	refs map[string]clusterRef
	// namespaces are the Bundle's Namespaces by name, and gateway is this
	// gateway's position for locality-aware load balancing (topology.go).
	namespaces map[string]*resource.Namespace
	gateway    position
	// kube indexes EndpointSlices, Pods and Nodes (endpointslices.go).
	kube *kubeIndex
	// weIndex indexes WorkloadEntries by namespace and label
	// (workloadindex.go).
	weIndex *workloadIndex
}

// report records a diagnostic about a field of an object. The same
// finding reported twice (a route compiled for two listeners) is kept once.
func (b *builder) report(m *resource.Meta, sev diag.Severity, code, field, message, hint string) {
	d := m.Diag(sev, code, field, message)
	d.Hint = hint
	key := strings.Join([]string{code, d.Kind, d.Namespace, d.Name, field, message}, "\x00")
	if b.reported[key] {
		return
	}
	b.reported[key] = true
	b.diags = append(b.diags, d)
}

// labelsMatch reports whether every selector label is present in labels
// with the same value. An empty selector matches everything, as Istio's
// Gateway and workload selectors do.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// formatLabels renders labels as "k=v,k2=v2" in key order, or "{}".
func formatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return "{}"
	}
	keys := sortedKeys(labels)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// copyLabels returns a copy of m, or nil when it is empty, so snapshots
// never share maps with the Bundle.
func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// nsName renders "namespace/name".
func nsName(m *resource.Meta) string { return m.Namespace + "/" + m.Name }
