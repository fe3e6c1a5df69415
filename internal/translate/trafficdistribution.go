package translate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
)

// annotationTrafficDistribution sets a service's traffic distribution on a
// Service, a ServiceEntry or a whole Namespace (API-ANN).
const annotationTrafficDistribution = "networking.istio.io/traffic-distribution"

// Resolved traffic-distribution modes. Kubernetes' PreferClose is the older
// name of PreferSameZone (KEP-3015) and Istio treats the two alike.
const (
	tdPreferSameZone = "PreferSameZone"
	tdPreferSameNode = "PreferSameNode"
)

// trafficDistribution is a service's resolved traffic distribution. An
// empty mode is Istio's "Any": no locality preference of its own.
type trafficDistribution struct {
	mode string
	// source says where the mode was set, for the cluster's
	// LocalityPolicy.Source.
	source string
}

// failoverPriority is the ranking a mode implies at an Envoy hop: the
// presets of Istio's GetEffectiveLbSetting. PreferSameZone ranks by
// network, region and zone (the docs also name subzone; the code does not,
// and the code is followed); PreferSameNode adds subzone and node.
func (td trafficDistribution) failoverPriority() []string {
	switch td.mode {
	case tdPreferSameZone:
		return []string{labelNetwork, labelRegion, labelZone}
	case tdPreferSameNode:
		return []string{labelNetwork, labelRegion, labelZone, labelSubzone, labelHostname}
	}
	return nil
}

// serviceTrafficDistribution resolves a service's mode in Istio's order
// (GetTrafficDistribution):
//
//  1. a Service's spec.trafficDistribution, when it is a value Istio
//     knows; any other value is passed over;
//  2. the annotation on the Service or ServiceEntry: any non-empty value
//     decides, an unknown one meaning Any (with a warning) rather than
//     falling through to the namespace;
//  3. the same annotation on the object's Namespace;
//  4. Any.
//
// spec is nil for a ServiceEntry, which has no such field.
func (b *builder) serviceTrafficDistribution(m *resource.Meta, spec *string) trafficDistribution {
	if spec != nil {
		switch *spec {
		case "PreferClose", "PreferSameZone":
			return trafficDistribution{mode: tdPreferSameZone, source: "Service trafficDistribution"}
		case "PreferSameNode":
			return trafficDistribution{mode: tdPreferSameNode, source: "Service trafficDistribution"}
		case "":
		default:
			b.report(m, diag.Warning, CodeTrafficDistribution, "spec.trafficDistribution",
				fmt.Sprintf("trafficDistribution %q is not a value Istio knows; it is ignored and the %s annotation decides",
					*spec, annotationTrafficDistribution),
				"use PreferSameZone (or PreferClose) or PreferSameNode")
		}
	}
	if v := m.Annotations[annotationTrafficDistribution]; v != "" {
		return b.annotatedTrafficDistribution(m, v, "annotation on "+m.Kind+" "+nsName(m))
	}
	if ns := b.namespaces[m.Namespace]; ns != nil {
		if v := ns.Annotations[annotationTrafficDistribution]; v != "" {
			return b.annotatedTrafficDistribution(&ns.Meta, v, "annotation on Namespace "+ns.Name)
		}
	}
	return trafficDistribution{}
}

// annotatedTrafficDistribution parses the annotation, case-insensitively
// as Istio does. An unknown value resolves to Any, reported on the object
// that carries it.
func (b *builder) annotatedTrafficDistribution(m *resource.Meta, value, source string) trafficDistribution {
	switch strings.ToLower(value) {
	case "preferclose", "prefersamezone":
		return trafficDistribution{mode: tdPreferSameZone, source: source}
	case "prefersamenode":
		return trafficDistribution{mode: tdPreferSameNode, source: source}
	}
	effect := "and does not fall back to the namespace's setting"
	if m.Kind == resource.KindNamespace {
		effect = "for the services of this namespace that set none"
	}
	b.report(m, diag.Warning, CodeTrafficDistribution,
		resource.JoinKey("metadata.annotations", annotationTrafficDistribution),
		fmt.Sprintf("traffic distribution %q is not a value Istio knows; Istio treats it as Any (no locality preference) %s", value, effect),
		"use PreferClose, PreferSameZone or PreferSameNode, or remove the annotation")
	return trafficDistribution{source: source}
}
