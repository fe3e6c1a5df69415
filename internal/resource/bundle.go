// Package resource holds the Bundle: every configuration object the gateway
// was given, decoded into the official API types (istio.io/api networking,
// k8s.io/api core) and tagged with where it came from. Sources produce
// Bundles; validate and translate consume them. Nothing here interprets the
// configuration.
package resource

import (
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
)

// Kind names of the objects a Bundle holds.
const (
	KindGateway         = "Gateway"
	KindVirtualService  = "VirtualService"
	KindDestinationRule = "DestinationRule"
	KindServiceEntry    = "ServiceEntry"
	KindWorkloadEntry   = "WorkloadEntry"
	KindService         = "Service"
	KindNamespace       = "Namespace"
)

// DefaultNamespace is used for objects that do not name one, as kubectl does.
const DefaultNamespace = "default"

// Meta is what every object carries besides its spec: identity, labels,
// and its origin including the line of each field.
type Meta struct {
	Kind              string
	APIVersion        string
	Namespace         string
	Name              string
	Labels            map[string]string
	Annotations       map[string]string
	CreationTimestamp time.Time
	// Origin is where the object starts (the line of "apiVersion" or the
	// first key of the document).
	Origin diag.Origin
	// Fields maps a field path ("spec.http[0].route[1].weight") to the line
	// it is written on. Absent for objects that did not come from a file.
	Fields map[string]int
}

// Key identifies the object as "Kind namespace/name", or "Kind name" for
// a cluster-scoped object such as a Namespace.
func (m *Meta) Key() string {
	if m.Namespace == "" {
		return m.Kind + " " + m.Name
	}
	return m.Kind + " " + m.Namespace + "/" + m.Name
}

// Locate returns the origin of a field path: the line of the path itself,
// or of its closest written ancestor (a defaulted field has no line of its
// own), falling back to the object's origin.
func (m *Meta) Locate(path string) diag.Origin {
	o := m.Origin
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := m.Fields[p]; ok {
			o.Line = line
			return o
		}
	}
	return o
}

// Diag builds a diagnostic about one field of this object.
func (m *Meta) Diag(sev diag.Severity, code, field, message string) diag.Diagnostic {
	return diag.Diagnostic{
		Severity:  sev,
		Code:      code,
		Origin:    m.Locate(field),
		Kind:      m.Kind,
		Namespace: m.Namespace,
		Name:      m.Name,
		Field:     field,
		Message:   message,
	}
}

// parentPath strips the last element of a field path:
// "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Gateway is an Istio networking Gateway.
type Gateway struct {
	Meta
	Spec *networkingv1.Gateway
}

// VirtualService is an Istio networking VirtualService.
type VirtualService struct {
	Meta
	Spec *networkingv1.VirtualService
}

// DestinationRule is an Istio networking DestinationRule.
type DestinationRule struct {
	Meta
	Spec *networkingv1.DestinationRule
}

// ServiceEntry is an Istio networking ServiceEntry.
type ServiceEntry struct {
	Meta
	Spec *networkingv1.ServiceEntry
}

// WorkloadEntry is an Istio networking WorkloadEntry.
type WorkloadEntry struct {
	Meta
	Spec *networkingv1.WorkloadEntry
}

// Service is a Kubernetes Service.
type Service struct {
	Meta
	Spec *corev1.ServiceSpec
}

// Namespace is a Kubernetes Namespace. Only its metadata matters to the
// gateway: labels and annotations that set defaults for the services in
// it (networking.istio.io/traffic-distribution, topology.istio.io/network).
// It is cluster-scoped, so Meta.Namespace is empty.
type Namespace struct {
	Meta
}

// Bundle is one consistent view of the whole configuration. It is built by
// a source and never modified afterwards; each slice is ordered as Istio
// orders configuration: oldest creation time first, then name, then
// namespace (see Sort).
type Bundle struct {
	Gateways         []*Gateway
	VirtualServices  []*VirtualService
	DestinationRules []*DestinationRule
	ServiceEntries   []*ServiceEntry
	WorkloadEntries  []*WorkloadEntry
	Services         []*Service
	Namespaces       []*Namespace
	Secrets          []*Secret
	// EndpointSlices, Pods and Nodes come from Kubernetes only (kube.go).
	EndpointSlices []*EndpointSlice
	Pods           []*Pod
	Nodes          []*Node
	// Gateway API objects (gatewayapi.go), which internal/gatewayapi
	// converts into Gateways and VirtualServices.
	KubeGateways    []*KubeGateway
	HTTPRoutes      []*HTTPRoute
	GRPCRoutes      []*GRPCRoute
	TLSRoutes       []*TLSRoute
	TCPRoutes       []*TCPRoute
	ReferenceGrants []*ReferenceGrant
	// Ignored counts documents of kinds the gateway does not use
	// (Deployment, ServiceAccount, ...), keyed by "apiVersion/kind".
	Ignored map[string]int
}
