package translate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
)

// AnnotationServiceExportTo is the Kubernetes Service annotation Istio reads
// as the Service's exportTo: a comma-separated list of namespaces, "." for
// the Service's own, "*" for all and "~" for none.
const AnnotationServiceExportTo = "networking.istio.io/exportTo"

// ExportDefaults are the mesh-wide exportTo defaults of MeshConfig
// (defaultVirtualServiceExportTo, defaultDestinationRuleExportTo,
// defaultServiceExportTo). They apply to objects that do not set exportTo
// themselves; an empty list means "*", Istio's default.
type ExportDefaults struct {
	VirtualService  []string
	DestinationRule []string
	// Service applies to ServiceEntries and Kubernetes Services.
	Service []string
}

// exportedToNamespace reports whether an object of namespace owner with the
// given exportTo (or, when it is empty, the mesh default def) is visible
// from namespace viewer: "*" is every namespace, "." the object's own, "~"
// none, anything else the namespace of that name.
func exportedToNamespace(exportTo, def []string, owner, viewer string) bool {
	if len(exportTo) == 0 {
		exportTo = def
	}
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch strings.TrimSpace(e) {
		case "*":
			return true
		case ".":
			if owner == viewer {
				return true
			}
		case "~":
		case viewer:
			return true
		}
	}
	return false
}

// privateOnly reports whether a DestinationRule's exportTo keeps it to its
// own namespace: exactly "." or its own namespace's name, or no exportTo
// under a mesh default that has ".". Istio keeps such rules out of the
// index other namespaces search.
func privateOnly(exportTo, def []string, owner string) bool {
	if len(exportTo) == 0 {
		for _, e := range def {
			if e == "." {
				return true
			}
		}
		return false
	}
	return len(exportTo) == 1 && (exportTo[0] == "." || exportTo[0] == owner)
}

// serviceExportTo is a Kubernetes Service's exportTo, read from its
// annotation; nil when it has none.
func serviceExportTo(m *resource.Meta) []string {
	v, ok := m.Annotations[AnnotationServiceExportTo]
	if !ok {
		return nil
	}
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// describeExportTo renders an exportTo for a message, saying where a
// default came from.
func describeExportTo(exportTo, def []string) string {
	switch {
	case len(exportTo) > 0:
		return "exportTo [" + strings.Join(exportTo, ", ") + "]"
	case len(def) > 0:
		return "the mesh default exportTo [" + strings.Join(def, ", ") + "] (it sets none)"
	}
	return "exportTo [*]"
}

// vsVisible reports whether this gateway sees a VirtualService: Istio
// gives a gateway only the VirtualServices exported to the namespace the
// gateway workload runs in, whatever namespace its Gateway is in.
func (b *builder) vsVisible(vs *resource.VirtualService) bool {
	return exportedToNamespace(vs.Spec.ExportTo, b.id.ExportTo.VirtualService, vs.Namespace, b.id.Namespace)
}

// reportHiddenVirtualService explains why a VirtualService bound to a
// Gateway this gateway serves is still not served.
func (b *builder) reportHiddenVirtualService(vs *resource.VirtualService, gateway string) {
	b.report(&vs.Meta, diag.Warning, CodeHiddenVirtualService, "spec.exportTo",
		fmt.Sprintf("the VirtualService is bound to Gateway %s, but under %s it is not visible in namespace %s, where this gateway runs; the gateway does not serve it",
			gateway, describeExportTo(vs.Spec.ExportTo, b.id.ExportTo.VirtualService), b.id.Namespace),
		fmt.Sprintf("add %q (or \"*\") to exportTo: visibility is decided by the gateway workload's namespace, not the Gateway's", b.id.Namespace))
}

// hiddenService is a service definition that this gateway does not see.
type hiddenService struct {
	meta     *resource.Meta
	exportTo string
}

// serviceVisible reports whether a Service or ServiceEntry is exported to
// this gateway's namespace; when it is not, the definition is remembered
// so that routes to its hosts can say why they have no cluster.
func (b *builder) serviceVisible(m *resource.Meta, exportTo []string, hosts ...string) bool {
	def := b.id.ExportTo.Service
	if exportedToNamespace(exportTo, def, m.Namespace, b.id.Namespace) {
		return true
	}
	if b.hiddenServices == nil {
		b.hiddenServices = map[string]hiddenService{}
	}
	for _, h := range hosts {
		if _, ok := b.hiddenServices[h]; !ok {
			b.hiddenServices[h] = hiddenService{meta: m, exportTo: describeExportTo(exportTo, def)}
		}
	}
	return false
}

// reportHiddenService reports a destination whose host is defined only by
// services not exported to this gateway. It reports false when the host is
// simply unknown.
func (b *builder) reportHiddenService(vs *resource.VirtualService, d *compiledDest) bool {
	h, ok := b.hiddenServices[d.host]
	if !ok {
		return false
	}
	b.report(&vs.Meta, diag.Warning, CodeHiddenService, d.field+".host",
		fmt.Sprintf("host %s is defined by %s, which under %s is not visible in namespace %s, where this gateway runs; %s",
			d.host, h.meta.Key(), h.exportTo, b.id.Namespace, d.noCluster()),
		fmt.Sprintf("export the service to %q (or \"*\")", b.id.Namespace))
	return true
}
