package translate

import (
	"cmp"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
)

// service is one host of the backend registry: a Kubernetes Service or one
// host of a ServiceEntry, with its ports and endpoints. It is what a
// destination host resolves to.
type service struct {
	host      string
	namespace string
	// meta is the object that declared the service, for diagnostics.
	meta      *resource.Meta
	ports     []servicePort
	endpoints []*endpoint
	// td is the service's traffic distribution (trafficdistribution.go).
	td trafficDistribution
	// subjectAltNames are a ServiceEntry's subjectAltNames: the
	// identities its endpoints present.
	subjectAltNames []string
}

// servicePort is one port of a service.
type servicePort struct {
	name   string
	number uint32
	// h2 is set when the port speaks HTTP/2 to its endpoints (gRPC,
	// http2); see portIsH2.
	h2 bool
}

// endpoint is one instance behind a service.
type endpoint struct {
	// host is the address without a port.
	host string
	// ports maps a service port number to the port the instance listens on
	// for it; a service port missing here is not served by the instance.
	ports portMap
	// labels are the labels as written; topology adds the synthesised
	// topology labels, which subsets and failoverPriority match against
	// (Istio matches both against the augmented labels).
	labels   map[string]string
	topology map[string]string
	locality snapshot.Locality
	network  string
	// cluster is the Kubernetes cluster the endpoint runs in: this
	// gateway's own for configuration read from files.
	cluster string
	weight  uint32
	origin  string
	// health is what the source reports (EndpointSlice conditions);
	// empty means HEALTHY.
	health snapshot.EndpointHealth
	// identity is the workload's SPIFFE ID, when known.
	identity string
}

func (s *service) port(number uint32) (servicePort, bool) {
	for _, p := range s.ports {
		if p.number == number {
			return p, true
		}
	}
	return servicePort{}, false
}

// buildRegistry collects every service the Bundle defines. Kubernetes
// Services come first so that, as in Istio, a ServiceEntry cannot take over
// the host of a Kubernetes Service; otherwise the oldest definition of a
// host wins.
func (b *builder) buildRegistry() {
	b.indexNamespaces()
	b.services = map[string]*service{}
	for _, s := range b.in.Services {
		b.addKubeService(s)
	}
	for _, se := range b.in.ServiceEntries {
		b.addServiceEntry(se)
	}
}

func (b *builder) register(s *service, field string) {
	if prev, ok := b.services[s.host]; ok {
		b.report(s.meta, diag.Warning, CodeDuplicateHost, field,
			fmt.Sprintf("host %q is already defined by %s; this definition is ignored", s.host, prev.meta.Key()),
			"define each host once; a Kubernetes Service takes precedence over a ServiceEntry, then the oldest object")
		return
	}
	b.services[s.host] = s
}

// addKubeService registers "<name>.<namespace>.svc.<suffix>" with the
// WorkloadEntries of the Service's namespace that its selector matches.
func (b *builder) addKubeService(s *resource.Service) {
	if s.Spec == nil {
		b.report(&s.Meta, diag.Error, CodeNoSpec, "spec", "the Service has no spec; it is ignored", "")
		return
	}
	host := strings.ToLower(s.Name + "." + s.Namespace + ".svc." + b.id.DomainSuffix)
	if !b.serviceVisible(&s.Meta, serviceExportTo(&s.Meta), host) {
		return
	}
	svc := &service{
		host:      host,
		namespace: s.Namespace,
		meta:      &s.Meta,
		td:        b.serviceTrafficDistribution(&s.Meta, s.Spec.TrafficDistribution),
	}
	var kports []corev1.ServicePort
	for _, p := range s.Spec.Ports {
		// Istio only models TCP ports (UDP is not proxied); an unset
		// protocol means TCP.
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port <= 0 || p.Port > 65535 {
			continue
		}
		kports = append(kports, p)
		svc.ports = append(svc.ports, servicePort{
			name:   p.Name,
			number: uint32(p.Port),
			h2:     portIsH2(p.Name, derefString(p.AppProtocol)),
		})
	}
	// WorkloadEntries the selector matches, as in Istio, and the
	// EndpointSlices of the Service, which a cluster keeps for its Pods (or
	// someone else keeps for a Service without a selector).
	if len(s.Spec.Selector) > 0 {
		for _, we := range b.workloads().matching(s.Namespace, s.Spec.Selector) {
			ep, ok := b.workloadEndpoint(&we.Meta, "spec", we.Spec, "WorkloadEntry "+we.Namespace+"/"+we.Name)
			if !ok {
				continue
			}
			for _, p := range kports {
				if port, ok := b.kubeTargetPort(we, p); ok {
					ep.ports.set(uint32(p.Port), port)
				}
			}
			svc.endpoints = append(svc.endpoints, ep)
		}
	}
	svc.endpoints = append(svc.endpoints, b.sliceEndpoints(s, kports)...)
	b.register(svc, "metadata.name")
}

// kubeTargetPort finds the port a WorkloadEntry serves a Service port on:
// the entry's port named like a named targetPort, else the entry's port
// named like the Service port, else the numeric targetPort (which defaults
// to the port itself).
func (b *builder) kubeTargetPort(we *resource.WorkloadEntry, p corev1.ServicePort) (uint32, bool) {
	if p.TargetPort.StrVal != "" {
		if port, ok := we.Spec.Ports[p.TargetPort.StrVal]; ok {
			return port, true
		}
		if port, ok := we.Spec.Ports[p.Name]; ok && p.Name != "" {
			return port, true
		}
		b.report(&we.Meta, diag.Warning, CodeEndpointPort, "spec.ports",
			fmt.Sprintf("the entry has no port named %q, which Service port %d targets; it does not serve that port", p.TargetPort.StrVal, p.Port),
			fmt.Sprintf("add ports: {%s: <number>} to the WorkloadEntry", p.TargetPort.StrVal))
		return 0, false
	}
	if port, ok := we.Spec.Ports[p.Name]; ok && p.Name != "" {
		return port, true
	}
	if p.TargetPort.IntVal > 0 {
		return uint32(p.TargetPort.IntVal), true
	}
	return uint32(p.Port), true
}

// addServiceEntry registers each host of a ServiceEntry with the entry's
// ports and endpoints: inline endpoints, or the WorkloadEntries and Pods
// (workloadselector.go) of its namespace that its workloadSelector matches. Every resolution is treated
// as a list of static addresses for now.
func (b *builder) addServiceEntry(se *resource.ServiceEntry) {
	spec := se.Spec
	if spec == nil {
		b.report(&se.Meta, diag.Error, CodeNoSpec, "spec", "the ServiceEntry has no spec; it is ignored", "")
		return
	}
	if !b.serviceVisible(&se.Meta, spec.ExportTo, lowerAll(spec.Hosts)...) {
		return
	}
	if len(spec.Endpoints) > 0 && spec.WorkloadSelector != nil {
		b.report(&se.Meta, diag.Error, CodeServiceEntry, "spec.workloadSelector",
			"only one of endpoints and workloadSelector can be set; the ServiceEntry is ignored", "")
		return
	}
	var ports []servicePort
	var sePorts []*networkingv1.ServicePort
	for i, p := range spec.Ports {
		if p == nil || p.Number == 0 || p.Number > 65535 {
			b.report(&se.Meta, diag.Error, CodeServiceEntry, resource.JoinIndex("spec.ports", i)+".number",
				"the port needs a number between 1 and 65535; the port is ignored", "")
			continue
		}
		sePorts = append(sePorts, p)
		ports = append(ports, servicePort{name: p.Name, number: p.Number, h2: protocolIsH2(p.Protocol)})
	}

	var endpoints []*endpoint
	for i, we := range spec.Endpoints {
		if we == nil {
			continue
		}
		field := resource.JoinIndex("spec.endpoints", i)
		ep, ok := b.workloadEndpoint(&se.Meta, field, we, "ServiceEntry "+nsName(&se.Meta)+" "+field)
		if !ok {
			continue
		}
		for _, p := range sePorts {
			ep.ports.set(p.Number, entryPort(we, p))
		}
		endpoints = append(endpoints, ep)
	}
	if sel := spec.WorkloadSelector; sel != nil {
		for _, we := range b.workloads().matching(se.Namespace, sel.Labels) {
			ep, ok := b.workloadEndpoint(&we.Meta, "spec", we.Spec, "WorkloadEntry "+we.Namespace+"/"+we.Name)
			if !ok {
				continue
			}
			for _, p := range sePorts {
				ep.ports.set(p.Number, entryPort(we.Spec, p))
			}
			endpoints = append(endpoints, ep)
		}
		endpoints = append(endpoints, b.podEndpoints(se, sePorts)...)
	}

	resolveHosts := false
	if len(spec.Endpoints) == 0 && spec.WorkloadSelector == nil {
		switch spec.Resolution {
		case networkingv1.ServiceEntry_DNS, networkingv1.ServiceEntry_DNS_ROUND_ROBIN:
			resolveHosts = true
		case networkingv1.ServiceEntry_DYNAMIC_DNS:
			b.report(&se.Meta, diag.Warning, CodeDNSResolution, "spec.resolution",
				"resolution DYNAMIC_DNS (a forward proxy for any name under a wildcard) is not supported; the hosts have no endpoints",
				"use resolution DNS with the exact hosts")
		}
	}

	td := b.serviceTrafficDistribution(&se.Meta, nil)
	for i, h := range spec.Hosts {
		host := strings.ToLower(h)
		field := resource.JoinIndex("spec.hosts", i)
		if host == "" || host == "*" {
			b.report(&se.Meta, diag.Error, CodeServiceEntry, field,
				fmt.Sprintf("host %q is not a valid ServiceEntry host; it is ignored", h), "use a DNS name, optionally with a leading \"*.\"")
			continue
		}
		hostEndpoints := endpoints
		if resolveHosts {
			hostEndpoints = b.dnsHostEndpoint(se, field, host, sePorts)
		}
		b.register(&service{host: host, namespace: se.Namespace, meta: &se.Meta, ports: ports, endpoints: hostEndpoints, td: td, subjectAltNames: spec.SubjectAltNames}, field)
	}
}

// dnsHostEndpoint is the endpoint of a DNS ServiceEntry host without
// endpoints: the host name itself, on each port's targetPort (else its
// number), resolved by the data plane when it opens a connection, as
// Envoy's LOGICAL_DNS cluster does. A wildcard cannot be resolved.
func (b *builder) dnsHostEndpoint(se *resource.ServiceEntry, field, host string, ports []*networkingv1.ServicePort) []*endpoint {
	if strings.HasPrefix(host, "*") {
		b.report(&se.Meta, diag.Warning, CodeDNSResolution, field,
			fmt.Sprintf("wildcard host %q cannot be resolved with resolution %s; it has no endpoints", host, se.Spec.Resolution),
			"list the addresses under endpoints, or use exact hosts")
		return nil
	}
	network := b.defaultNetwork()
	ep := &endpoint{
		host:     host,
		topology: topologyLabels(nil, snapshot.Locality{}, b.id.Cluster, "", network),
		network:  network,
		cluster:  b.id.Cluster,
		weight:   1,
		origin:   "ServiceEntry " + nsName(&se.Meta) + " " + field + " (DNS)",
	}
	for _, p := range ports {
		ep.ports.set(p.Number, cmp.Or(p.TargetPort, p.Number))
	}
	return []*endpoint{ep}
}

// entryPort is the port a ServiceEntry endpoint serves p on: its port named
// like p, else p's targetPort, else p's number.
func entryPort(we *networkingv1.WorkloadEntry, p *networkingv1.ServicePort) uint32 {
	if port, ok := we.Ports[p.Name]; ok && p.Name != "" && port != 0 {
		return port
	}
	if p.TargetPort != 0 {
		return p.TargetPort
	}
	return p.Number
}

// workloadEndpoint turns a WorkloadEntry (or an inline ServiceEntry
// endpoint) into an endpoint without ports. It reports false, with a
// diagnostic, when the address cannot be dialled.
func (b *builder) workloadEndpoint(m *resource.Meta, field string, we *networkingv1.WorkloadEntry, origin string) (*endpoint, bool) {
	addr := we.Address
	switch {
	case addr == "":
		b.report(m, diag.Warning, CodeEndpointAddress, field+".address",
			"the endpoint has no address; it is ignored", "")
		return nil, false
	case strings.HasPrefix(addr, "unix://"):
		b.report(m, diag.Warning, CodeEndpointAddress, field+".address",
			"unix domain socket endpoints are not supported yet; it is ignored", "")
		return nil, false
	}
	weight := we.Weight
	if weight == 0 {
		weight = 1
	}
	locality, network := workloadLocality(we), b.workloadNetwork(we)
	labels := copyLabels(we.Labels)
	// Without a locality, cluster or network there is no topology label
	// to add, and the (read-only) labels serve as they are: at 100,000
	// endpoints a second map each is a third of what a build allocates.
	topology := labels
	if locality != (snapshot.Locality{}) || b.id.Cluster != "" || network != "" {
		topology = topologyLabels(we.Labels, locality, b.id.Cluster, "", network)
	}
	return &endpoint{
		host:     addr,
		labels:   labels,
		topology: topology,
		locality: locality,
		network:  network,
		cluster:  b.id.Cluster,
		weight:   weight,
		origin:   origin,
		identity: b.spiffeID(m.Namespace, we.ServiceAccount),
	}, true
}

// address renders the endpoint's "host:port" for a service port, with IPv6
// literals in brackets.
func (e *endpoint) address(servicePort uint32) (string, bool) {
	port, ok := e.ports.get(servicePort)
	if !ok || port == 0 {
		return "", false
	}
	return net.JoinHostPort(e.host, strconv.FormatUint(uint64(port), 10)), true
}

// parseLocality reads "region/zone/subzone"; missing parts stay empty.
func parseLocality(s string) snapshot.Locality {
	var l snapshot.Locality
	parts := strings.SplitN(s, "/", 3)
	l.Region = parts[0]
	if len(parts) > 1 {
		l.Zone = parts[1]
	}
	if len(parts) > 2 {
		l.Subzone = parts[2]
	}
	return l
}

// portIsH2 reports whether a Kubernetes Service port carries HTTP/2, the
// way Istio derives a port's protocol: appProtocol when it names a known
// protocol ("kubernetes.io/h2c" counts as http2), else the port name's
// prefix before the first "-" ("grpc-api", "http2").
func portIsH2(name, appProtocol string) bool {
	if ap := strings.ToLower(appProtocol); ap != "" {
		switch ap {
		case "http2", "grpc", "kubernetes.io/h2c":
			return true
		case "http", "https", "tcp", "tls", "grpc-web", "mongo", "redis", "mysql", "udp",
			"kubernetes.io/ws", "kubernetes.io/wss":
			return false
		}
	}
	prefix, _, _ := strings.Cut(strings.ToLower(name), "-")
	return prefix == "http2" || prefix == "grpc"
}

// protocolIsH2 reports whether a ServiceEntry port protocol carries HTTP/2.
func protocolIsH2(protocol string) bool {
	switch strings.ToUpper(protocol) {
	case "HTTP2", "GRPC":
		return true
	}
	return false
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// portMap maps service port numbers to endpoint ports. Endpoints serve a
// handful of ports, so a slice searched linearly is smaller and cheaper
// to build than a map (one small allocation per endpoint).
type portMap []portPair

type portPair struct{ service, target uint32 }

func (m *portMap) set(service, target uint32) {
	for i := range *m {
		if (*m)[i].service == service {
			(*m)[i].target = target
			return
		}
	}
	*m = append(*m, portPair{service, target})
}

func (m portMap) get(service uint32) (uint32, bool) {
	for _, p := range m {
		if p.service == service {
			return p.target, true
		}
	}
	return 0, false
}
