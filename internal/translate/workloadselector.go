package translate

import (
	"net/netip"

	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// podEndpoints returns the Pods a ServiceEntry's workloadSelector selects,
// as its endpoints: Pods of the entry's namespace, in any cluster, whose
// labels match, that are ready and not terminating (Istio drops a Pod
// from a ServiceEntry as soon as it is either), with one endpoint per
// address. Each ServiceEntry port is served on the Pod's container port
// of the same name, else on the port's targetPort, else on its number,
// as for WorkloadEntries. Labels, locality (the Pod's locality label,
// else its Node's topology labels) and network come from the Pod, as for
// a Kubernetes Service's endpoints.
func (b *builder) podEndpoints(se *resource.ServiceEntry, ports []*networkingv1.ServicePort) []*endpoint {
	sel := se.Spec.GetWorkloadSelector()
	if sel == nil {
		return nil
	}
	x := b.kubeObjects()
	var out []*endpoint
	for _, pod := range b.in.Pods {
		if pod.Namespace != se.Namespace || !pod.Ready || pod.Terminating || !labelsMatch(sel.Labels, pod.Labels) {
			continue
		}
		cluster := b.clusterOf(pod.Cluster)
		locality := endpointLocality(pod.Labels, x.nodes[cluster+"/"+pod.NodeName], "")
		network := pod.Labels[labelNetwork]
		if network == "" {
			network = b.defaultNetwork()
		}
		seen := map[string]bool{}
		for _, ip := range pod.IPs {
			a, err := netip.ParseAddr(ip)
			if err != nil || seen[a.String()] {
				continue
			}
			seen[a.String()] = true
			ep := &endpoint{
				host:     a.String(),
				labels:   copyLabels(pod.Labels),
				topology: topologyLabels(pod.Labels, locality, cluster, pod.NodeName, network),
				locality: locality,
				network:  network,
				cluster:  cluster,
				weight:   1,
				origin:   "Pod " + nsName(&pod.Meta),
				identity: b.podIdentity(pod),
			}
			for _, p := range ports {
				ep.ports.set(p.Number, podPort(pod, p))
			}
			out = append(out, ep)
		}
	}
	return out
}

// podPort is the port a selected Pod serves ServiceEntry port p on.
func podPort(pod *resource.Pod, p *networkingv1.ServicePort) uint32 {
	if port, ok := pod.Ports[p.Name]; ok && p.Name != "" && port != 0 {
		return port
	}
	if p.TargetPort != 0 {
		return p.TargetPort
	}
	return p.Number
}
