package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Node labels that give a workload's locality, as Istio reads them.
const (
	labelRegion  = "topology.kubernetes.io/region"
	labelZone    = "topology.kubernetes.io/zone"
	labelSubzone = "topology.istio.io/subzone"
)

// GatewayPod is what the cluster says about the gateway's own Pod: its
// labels, which Gateway selectors are matched against, and the locality
// of its Node, which locality-aware load balancing ranks endpoints by.
type GatewayPod struct {
	Labels map[string]string
	Node   string
	// Region, Zone and Subzone come from the Node's topology labels.
	Region, Zone, Subzone string
	// ProxyConfig is the Pod's proxy.istio.io/config annotation: a
	// ProxyConfig (YAML) overriding the mesh's defaultConfig for this
	// gateway, as Istio's gateways read it.
	ProxyConfig string
}

// AnnotationProxyConfig is the Pod annotation holding a gateway's own
// ProxyConfig.
const AnnotationProxyConfig = "proxy.istio.io/config"

// LookupGatewayPod reads Pod namespace/name and its Node from the first
// cluster. A Node that cannot be read (RBAC, or not scheduled yet) leaves
// the locality empty rather than failing: the flags can give it.
func LookupGatewayPod(ctx context.Context, c Cluster, namespace, name string) (GatewayPod, error) {
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return GatewayPod{}, err
	}
	pod, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return GatewayPod{}, fmt.Errorf("reading the gateway's Pod %s/%s: %w", namespace, name, err)
	}
	out := GatewayPod{Labels: pod.Labels, Node: pod.Spec.NodeName, ProxyConfig: pod.Annotations[AnnotationProxyConfig]}
	if out.Node == "" {
		return out, nil
	}
	node, err := client.CoreV1().Nodes().Get(ctx, out.Node, metav1.GetOptions{})
	if err != nil {
		return out, nil
	}
	out.Region, out.Zone, out.Subzone = node.Labels[labelRegion], node.Labels[labelZone], node.Labels[labelSubzone]
	return out, nil
}
