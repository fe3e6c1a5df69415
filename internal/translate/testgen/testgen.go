// Package testgen generates large, valid configurations for scale
// benchmarks of translate and the pipeline: N VirtualServices spread over
// H gateway hosts, routing to backend services that hold E endpoints in
// total. The objects are built directly as Bundle values (no YAML
// decoding), so a benchmark measures the compiler and nothing else.
package testgen

import (
	"fmt"
	"net/netip"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// Spec sizes a generated configuration.
type Spec struct {
	// VirtualServices is the number of VirtualServices; they are spread
	// evenly over Hosts gateway hosts, each with its own path prefix.
	VirtualServices int
	// Hosts is the number of distinct hosts the Gateway serves
	// (h0000.bench.example.com, ...).
	Hosts int
	// Services is the number of backend services (ServiceEntries, each
	// with a ROUND_ROBIN DestinationRule and subsets v1 and v2); 0 means
	// one per host.
	Services int
	// Endpoints is the total number of endpoints, spread evenly over the
	// services; half carry version=v1, half version=v2.
	Endpoints int
	// WorkloadEntries declares endpoints as WorkloadEntries selected by
	// the ServiceEntry's workloadSelector (the way endpoints change one at
	// a time); otherwise they are inline ServiceEntry endpoints.
	WorkloadEntries bool
}

// Large is the configuration of the scale target: 10,000 VirtualServices
// over 1,000 hosts and 100,000 endpoints.
var Large = Spec{VirtualServices: 10_000, Hosts: 1_000, Endpoints: 100_000, WorkloadEntries: true}

// Names used by the generated objects.
const (
	GatewayNamespace = "istio-system"
	Namespace        = "bench"
	GatewayName      = "bench"
	// Port is the Gateway's HTTP port and every service's port.
	Port = 80
)

// Host returns the name of gateway host i.
func Host(i int) string { return fmt.Sprintf("h%04d.bench.example.com", i) }

// ServiceHost returns the host of backend service i.
func ServiceHost(i int) string { return fmt.Sprintf("svc%04d.bench.internal", i) }

// EndpointAddress returns the address of endpoint i (10.0.0.1 onwards).
func EndpointAddress(i int) string {
	a := netip.AddrFrom4([4]byte{10, 0, 0, 1})
	v := a.As4()
	n := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
	n += uint32(i)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

func (s Spec) services() int {
	if s.Services > 0 {
		return s.Services
	}
	if s.Hosts > 0 {
		return s.Hosts
	}
	return 1
}

// Bundle builds the configuration s describes, sorted as a source would
// deliver it. Every object is valid: translating it yields no errors.
func Bundle(s Spec) *resource.Bundle {
	if s.Hosts <= 0 {
		s.Hosts = 1
	}
	nsvc := s.services()
	b := &resource.Bundle{}

	hosts := make([]string, s.Hosts)
	for i := range hosts {
		hosts[i] = Host(i)
	}
	b.Gateways = append(b.Gateways, &resource.Gateway{
		Meta: meta(resource.KindGateway, GatewayNamespace, GatewayName),
		Spec: &networkingv1.Gateway{
			Selector: map[string]string{"istio": "ingressgateway"},
			Servers: []*networkingv1.Server{{
				Port:  &networkingv1.Port{Number: Port, Name: "http", Protocol: "HTTP"},
				Hosts: []string{"*/*.bench.example.com"},
			}},
		},
	})

	// Endpoints of service k are those i with i % nsvc == k.
	perService := make([][]int, nsvc)
	for i := range s.Endpoints {
		perService[i%nsvc] = append(perService[i%nsvc], i)
	}
	for k := range nsvc {
		app := fmt.Sprintf("svc%04d", k)
		se := &networkingv1.ServiceEntry{
			Hosts:      []string{ServiceHost(k)},
			Ports:      []*networkingv1.ServicePort{{Number: Port, Name: "http", Protocol: "HTTP"}},
			Resolution: networkingv1.ServiceEntry_STATIC,
			Location:   networkingv1.ServiceEntry_MESH_INTERNAL,
		}
		if s.WorkloadEntries {
			se.WorkloadSelector = &networkingv1.WorkloadSelector{Labels: map[string]string{"app": app}}
		}
		for n, i := range perService[k] {
			labels := map[string]string{"app": app, "version": version(n)}
			if s.WorkloadEntries {
				b.WorkloadEntries = append(b.WorkloadEntries, &resource.WorkloadEntry{
					Meta: meta(resource.KindWorkloadEntry, Namespace, WorkloadEntryName(i)),
					Spec: &networkingv1.WorkloadEntry{Address: EndpointAddress(i), Labels: labels},
				})
				continue
			}
			se.Endpoints = append(se.Endpoints, &networkingv1.WorkloadEntry{Address: EndpointAddress(i), Labels: labels})
		}
		b.ServiceEntries = append(b.ServiceEntries, &resource.ServiceEntry{
			Meta: meta(resource.KindServiceEntry, Namespace, app),
			Spec: se,
		})
		b.DestinationRules = append(b.DestinationRules, &resource.DestinationRule{
			Meta: meta(resource.KindDestinationRule, Namespace, app),
			Spec: &networkingv1.DestinationRule{
				Host: ServiceHost(k),
				TrafficPolicy: &networkingv1.TrafficPolicy{LoadBalancer: &networkingv1.LoadBalancerSettings{
					LbPolicy: &networkingv1.LoadBalancerSettings_Simple{Simple: networkingv1.LoadBalancerSettings_ROUND_ROBIN},
				}},
				Subsets: []*networkingv1.Subset{
					{Name: "v1", Labels: map[string]string{"version": "v1"}},
					{Name: "v2", Labels: map[string]string{"version": "v2"}},
				},
			},
		})
	}

	for v := range s.VirtualServices {
		h := v % s.Hosts
		svc := ServiceHost(h % nsvc)
		b.VirtualServices = append(b.VirtualServices, &resource.VirtualService{
			Meta: meta(resource.KindVirtualService, Namespace, fmt.Sprintf("vs%05d", v)),
			Spec: &networkingv1.VirtualService{
				Hosts:    []string{hosts[h]},
				Gateways: []string{GatewayNamespace + "/" + GatewayName},
				Http: []*networkingv1.HTTPRoute{{
					Name: fmt.Sprintf("vs%05d", v),
					Match: []*networkingv1.HTTPMatchRequest{{
						Uri: &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: fmt.Sprintf("/vs%05d/", v)}},
					}},
					Route: []*networkingv1.HTTPRouteDestination{
						{Destination: &networkingv1.Destination{Host: svc, Subset: "v1", Port: &networkingv1.PortSelector{Number: Port}}, Weight: 90},
						{Destination: &networkingv1.Destination{Host: svc, Subset: "v2", Port: &networkingv1.PortSelector{Number: Port}}, Weight: 10},
					},
				}},
			},
		})
	}
	b.Sort()
	return b
}

// WorkloadEntryName is the name of the WorkloadEntry of endpoint i.
func WorkloadEntryName(i int) string { return fmt.Sprintf("ep%06d", i) }

// WithEndpointMoved returns a copy of b in which the WorkloadEntry of
// endpoint i has a new address (as when one Pod is replaced). Everything
// else is shared with b, as a source shares unchanged objects between
// two Bundles. b must have been generated with WorkloadEntries.
func WithEndpointMoved(b *resource.Bundle, i int, address string) *resource.Bundle {
	nb := *b
	nb.WorkloadEntries = append([]*resource.WorkloadEntry(nil), b.WorkloadEntries...)
	name := WorkloadEntryName(i)
	for j, we := range nb.WorkloadEntries {
		if we.Name != name {
			continue
		}
		moved := *we
		spec := &networkingv1.WorkloadEntry{Address: address, Labels: we.Spec.GetLabels(), Ports: we.Spec.GetPorts()}
		moved.Spec = spec
		nb.WorkloadEntries[j] = &moved
		return &nb
	}
	panic("testgen: no WorkloadEntry " + name)
}

func version(n int) string {
	if n%2 == 0 {
		return "v1"
	}
	return "v2"
}

func meta(kind, namespace, name string) resource.Meta {
	return resource.Meta{
		Kind:       kind,
		APIVersion: "networking.istio.io/v1",
		Namespace:  namespace,
		Name:       name,
		Origin:     diag.Origin{Source: "testgen"},
	}
}
