package translate

import (
	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Builders for Bundles written in Go. They set only what a test needs.

func objMeta(kind, ns, name string) resource.Meta {
	return resource.Meta{Kind: kind, Namespace: ns, Name: name}
}

func gatewayObj(ns, name string, selector map[string]string, servers ...*networkingv1.Server) *resource.Gateway {
	return &resource.Gateway{
		Meta: objMeta(resource.KindGateway, ns, name),
		Spec: &networkingv1.Gateway{Selector: selector, Servers: servers},
	}
}

func server(port uint32, protocol string, hosts ...string) *networkingv1.Server {
	return &networkingv1.Server{
		Port:  &networkingv1.Port{Number: port, Protocol: protocol, Name: "p"},
		Hosts: hosts,
	}
}

func virtualServiceObj(ns, name string, spec *networkingv1.VirtualService) *resource.VirtualService {
	return &resource.VirtualService{Meta: objMeta(resource.KindVirtualService, ns, name), Spec: spec}
}

func destinationRuleObj(ns, name string, spec *networkingv1.DestinationRule) *resource.DestinationRule {
	return &resource.DestinationRule{Meta: objMeta(resource.KindDestinationRule, ns, name), Spec: spec}
}

func kubeServiceObj(ns, name string, selector map[string]string, ports ...corev1.ServicePort) *resource.Service {
	return &resource.Service{
		Meta: objMeta(resource.KindService, ns, name),
		Spec: &corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
}

func kubePort(name string, port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(target)}
}

func workloadEntryObj(ns, name, address string, labels map[string]string, ports map[string]uint32) *resource.WorkloadEntry {
	return &resource.WorkloadEntry{
		Meta: objMeta(resource.KindWorkloadEntry, ns, name),
		Spec: &networkingv1.WorkloadEntry{Address: address, Labels: labels, Ports: ports},
	}
}

func route(host, subset string, weight int32) *networkingv1.HTTPRouteDestination {
	return &networkingv1.HTTPRouteDestination{
		Destination: &networkingv1.Destination{Host: host, Subset: subset},
		Weight:      weight,
	}
}

func prefix(p string) *networkingv1.StringMatch {
	return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: p}}
}

func regex(r string) *networkingv1.StringMatch {
	return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Regex{Regex: r}}
}

func subset(name string, labels map[string]string) *networkingv1.Subset {
	return &networkingv1.Subset{Name: name, Labels: labels}
}

func simpleLB(lb networkingv1.LoadBalancerSettings_SimpleLB) *networkingv1.TrafficPolicy {
	return &networkingv1.TrafficPolicy{LoadBalancer: &networkingv1.LoadBalancerSettings{
		LbPolicy: &networkingv1.LoadBalancerSettings_Simple{Simple: lb},
	}}
}

// canaryBundle is the reference configuration: one Gateway, a 20/80 split
// between two subsets of echoserver-service, a catch-all DestinationRule
// defining the subsets, and four WorkloadEntries on loopback ports.
func canaryBundle() *resource.Bundle {
	app := func(version string) map[string]string {
		return map[string]string{"app": "echoserver", "version": version}
	}
	return &resource.Bundle{
		Gateways: []*resource.Gateway{
			gatewayObj("default", "echo-gateway", map[string]string{"istio": "ingressgateway"}, server(80, "HTTP", "*")),
		},
		VirtualServices: []*resource.VirtualService{
			virtualServiceObj("default", "echo", &networkingv1.VirtualService{
				Hosts:    []string{"*"},
				Gateways: []string{"echo-gateway"},
				Http: []*networkingv1.HTTPRoute{{
					Route: []*networkingv1.HTTPRouteDestination{
						route("echoserver-service", "v1", 20),
						route("echoserver-service", "v2", 80),
					},
				}},
			}),
		},
		DestinationRules: []*resource.DestinationRule{
			destinationRuleObj("default", "all", &networkingv1.DestinationRule{
				Host:    "*",
				Subsets: []*networkingv1.Subset{subset("v1", map[string]string{"version": "v1"}), subset("v2", map[string]string{"version": "v2"})},
			}),
		},
		Services: []*resource.Service{
			kubeServiceObj("default", "echoserver-service", map[string]string{"app": "echoserver"}, kubePort("http", 80, 8080)),
		},
		WorkloadEntries: []*resource.WorkloadEntry{
			workloadEntryObj("default", "echo-v1-a", "127.0.0.1", app("v1"), map[string]uint32{"http": 18081}),
			workloadEntryObj("default", "echo-v1-b", "127.0.0.1", app("v1"), map[string]uint32{"http": 18082}),
			workloadEntryObj("default", "echo-v2-a", "127.0.0.1", app("v2"), map[string]uint32{"http": 18083}),
			workloadEntryObj("default", "echo-v2-b", "127.0.0.1", app("v2"), map[string]uint32{"http": 18084}),
		},
	}
}
