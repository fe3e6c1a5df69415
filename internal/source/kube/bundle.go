package kube

import (
	"cmp"
	"slices"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/resource"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiolisters "istio.io/client-go/pkg/listers/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// listers read one cluster's informer caches. Namespaced kinds have one
// lister per watched namespace.
type listers struct {
	services   []corelisters.ServiceLister
	slices     []discoverylisters.EndpointSliceLister
	pods       []corelisters.PodLister
	nodes      corelisters.NodeLister
	namespaces corelisters.NamespaceLister
	secrets    corelisters.SecretLister

	gateways         []istiolisters.GatewayLister
	virtualServices  []istiolisters.VirtualServiceLister
	destinationRules []istiolisters.DestinationRuleLister
	serviceEntries   []istiolisters.ServiceEntryLister
	workloadEntries  []istiolisters.WorkloadEntryLister

	gatewayAPI gatewayAPIListers
}

const istioAPIVersion = "networking.istio.io/v1"

// update builds a Bundle from the informer caches as they are now.
//
// The Bundle shares specs, labels and annotations with the caches rather
// than copying them: informers replace cached objects and never modify
// them, and nothing modifies a Bundle.
func (s *Source) update() pipeline.Update {
	b := &resource.Bundle{}
	// A Service is one host across clusters, as in Istio: the first
	// cluster that has it (in the order given) defines its ports and
	// selector; every cluster's EndpointSlices add endpoints to it.
	services := map[string]bool{}
	for _, c := range s.clusters {
		l := &c.listers
		for _, svc := range list(l.services) {
			key := svc.Namespace + "/" + svc.Name
			if services[key] {
				continue
			}
			services[key] = true
			b.Services = append(b.Services, &resource.Service{Meta: c.meta(resource.KindService, "v1", &svc.ObjectMeta), Spec: &svc.Spec})
		}
		for _, es := range list(l.slices) {
			b.EndpointSlices = append(b.EndpointSlices, &resource.EndpointSlice{
				Meta:        c.meta(resource.KindEndpointSlice, "discovery.k8s.io/v1", &es.ObjectMeta),
				Cluster:     c.id,
				AddressType: es.AddressType,
				Endpoints:   es.Endpoints,
				Ports:       es.Ports,
			})
		}
		for _, p := range list(l.pods) {
			out := &resource.Pod{
				Meta:           c.meta(resource.KindPod, "v1", &p.ObjectMeta),
				Cluster:        c.id,
				NodeName:       p.Spec.NodeName,
				ServiceAccount: p.Spec.ServiceAccountName,
				Ready:          podReady(p),
				Terminating:    p.DeletionTimestamp != nil,
				Ports:          podPorts(p),
			}
			for _, ip := range p.Status.PodIPs {
				out.IPs = append(out.IPs, ip.IP)
			}
			b.Pods = append(b.Pods, out)
		}
		nodes, _ := l.nodes.List(labels.Everything())
		for _, n := range sorted(nodes) {
			b.Nodes = append(b.Nodes, &resource.Node{Meta: c.meta(resource.KindNode, "v1", &n.ObjectMeta), Cluster: c.id})
		}
		if c.config {
			c.addConfig(b)
		}
	}
	b.Secrets = s.referencedSecrets(b)
	b.Sort()
	return pipeline.Update{Bundle: b}
}

// addConfig adds what only the configuration cluster contributes.
func (c *cluster) addConfig(b *resource.Bundle) {
	l := &c.listers
	for _, o := range list(l.gateways) {
		b.Gateways = append(b.Gateways, &resource.Gateway{Meta: c.meta(resource.KindGateway, istioAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.virtualServices) {
		b.VirtualServices = append(b.VirtualServices, &resource.VirtualService{Meta: c.meta(resource.KindVirtualService, istioAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.destinationRules) {
		b.DestinationRules = append(b.DestinationRules, &resource.DestinationRule{Meta: c.meta(resource.KindDestinationRule, istioAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.serviceEntries) {
		b.ServiceEntries = append(b.ServiceEntries, &resource.ServiceEntry{Meta: c.meta(resource.KindServiceEntry, istioAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.workloadEntries) {
		b.WorkloadEntries = append(b.WorkloadEntries, &resource.WorkloadEntry{Meta: c.meta(resource.KindWorkloadEntry, istioAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	c.addGatewayAPIConfig(b)
	namespaces, _ := l.namespaces.List(labels.Everything())
	for _, ns := range sorted(namespaces) {
		if !c.watches(ns.Name) {
			continue
		}
		b.Namespaces = append(b.Namespaces, &resource.Namespace{Meta: c.meta(resource.KindNamespace, "v1", &ns.ObjectMeta)})
	}
	if l.secrets != nil {
		secrets, _ := l.secrets.List(labels.Everything())
		for _, sec := range sorted(secrets) {
			b.Secrets = append(b.Secrets, &resource.Secret{
				Meta: c.meta(resource.KindSecret, "v1", &sec.ObjectMeta),
				Type: string(cmp.Or(sec.Type, corev1.SecretTypeOpaque)),
				Data: sec.Data,
			})
		}
	}
}

// watches reports whether namespace ns is in the watched scope, so the
// Bundle's Namespaces stay within it like everything else.
func (c *cluster) watches(ns string) bool {
	scope := c.source.opts.Namespaces
	return len(scope) == 0 || slices.Contains(scope, ns)
}

// referencedSecrets keeps the Secrets that a Gateway server names as its
// credentials (credentialName, credentialNames, caCertCredentialName, and
// the "<name>-cacert" Secret Istio also looks for), and remembers their
// names so that changes to other Secrets cause no rebuild.
func (s *Source) referencedSecrets(b *resource.Bundle) []*resource.Secret {
	names := map[string]bool{}
	add := func(n string) {
		if n != "" {
			names[n] = true
			names[n+"-cacert"] = true
		}
	}
	for _, gw := range b.Gateways {
		for _, srv := range gw.Spec.GetServers() {
			t := srv.GetTls()
			add(t.GetCredentialName())
			for _, n := range t.GetCredentialNames() {
				add(n)
			}
			if n := t.GetCaCertCredentialName(); n != "" {
				names[n] = true
			}
		}
	}
	gatewayAPISecrets(b, add)
	s.secrets.Store(&names)
	return slices.DeleteFunc(b.Secrets, func(sec *resource.Secret) bool { return !names[sec.Name] })
}

// meta converts Kubernetes object metadata; the origin names the cluster,
// namespace and name.
func (c *cluster) meta(kind, apiVersion string, om *metav1.ObjectMeta) resource.Meta {
	src := "kube:" + c.id + "/"
	if om.Namespace != "" {
		src += om.Namespace + "/"
	}
	return resource.Meta{
		Kind:              kind,
		APIVersion:        apiVersion,
		Namespace:         om.Namespace,
		Name:              om.Name,
		Labels:            om.Labels,
		Annotations:       om.Annotations,
		CreationTimestamp: om.CreationTimestamp.Time,
		Origin:            diag.Origin{Source: src + om.Name},
	}
}

// namespacedLister is what every generated namespaced lister offers.
type namespacedLister[T any] interface {
	List(selector labels.Selector) ([]T, error)
}

// list reads every object of a kind from the per-namespace listers, in
// namespace and name order, so Bundles come out the same every time.
func list[T metav1.Object, L namespacedLister[T]](ls []L) []T {
	var out []T
	for _, l := range ls {
		objs, _ := l.List(labels.Everything()) // a cache lister never fails
		out = append(out, objs...)
	}
	return sorted(out)
}

func sorted[T metav1.Object](objs []T) []T {
	slices.SortFunc(objs, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return objs
}

// Interface guards: the listers return the client-go types whose specs
// the Bundle holds.
var (
	_ namespacedLister[*clientnetworking.Gateway] = istiolisters.GatewayLister(nil)
	_ namespacedLister[*corev1.Service]           = corelisters.ServiceLister(nil)
)

// podReady reports the Pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podPorts collects the Pod's named TCP container ports.
func podPorts(p *corev1.Pod) map[string]uint32 {
	var out map[string]uint32
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == "" || port.ContainerPort <= 0 || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP) {
				continue
			}
			if out == nil {
				out = map[string]uint32{}
			}
			out[port.Name] = uint32(port.ContainerPort)
		}
	}
	return out
}
