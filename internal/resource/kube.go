package resource

import discoveryv1 "k8s.io/api/discovery/v1"

// Kinds read from a Kubernetes cluster only: they describe where a
// Service's instances run, which only the cluster knows, so configuration
// files do not carry them (a file that does has them counted in Ignored).
const (
	KindEndpointSlice = "EndpointSlice"
	KindPod           = "Pod"
	KindNode          = "Node"
)

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice: a share of the
// endpoints of the Service named by its kubernetes.io/service-name label,
// with their conditions (ready, serving, terminating), zone, node and
// topology hints, as the cluster reported them.
type EndpointSlice struct {
	Meta
	// Cluster is the cluster the slice was read from; empty means the
	// gateway's own.
	Cluster     string
	AddressType discoveryv1.AddressType
	Endpoints   []discoveryv1.Endpoint
	Ports       []discoveryv1.EndpointPort
}

// Pod is a Kubernetes Pod, for what endpoints take from it: its labels
// (which subsets select on), its node and its service account.
type Pod struct {
	Meta
	// Cluster is the cluster the Pod was read from; empty means the
	// gateway's own.
	Cluster string
	// NodeName is the node the Pod is scheduled to.
	NodeName string
	// ServiceAccount is the Pod's service account, its workload identity.
	ServiceAccount string
	// IPs are the Pod's addresses (status.podIPs).
	IPs []string
	// Ready is the Pod's Ready condition; Terminating is set once it is
	// being deleted. A ServiceEntry's workloadSelector only takes Pods
	// that are ready and not terminating, as Istio does.
	Ready       bool
	Terminating bool
	// Ports are the Pod's named container ports, which a ServiceEntry
	// port of the same name is served on.
	Ports map[string]uint32
}

// Node is a Kubernetes Node, for its topology labels
// (topology.kubernetes.io/region and zone, topology.istio.io/subzone),
// which give the locality of the Pods that run on it. It is
// cluster-scoped, so Meta.Namespace is empty.
type Node struct {
	Meta
	// Cluster is the cluster the Node belongs to; empty means the
	// gateway's own.
	Cluster string
}
