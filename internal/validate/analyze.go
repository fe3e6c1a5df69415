package validate

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// Analyze runs the cross-object checks on b: the traps Istio accepts but
// istioctl analyze warns about, seen from every Gateway, not only those
// that select this gateway. id supplies the domain suffix short names
// complete with.
func Analyze(b *resource.Bundle, id translate.Identity) diag.List {
	if b == nil {
		return nil
	}
	a := newAnalysis(b, id)
	a.gateways()
	a.virtualServices()
	a.destinationRules()
	a.serviceEntryProtocols()
	return a.out
}

// analysis is the state of one Analyze call: indexes over the Bundle.
type analysis struct {
	b      *resource.Bundle
	suffix string
	out    diag.List

	services []*service
	// byHost indexes services by exact host; wildcards lists the
	// services whose host is a wildcard. Lookups stay linear in the
	// services that can match, not in all of them.
	byHost    map[string][]*service
	wildcards []*service
	// rulesByHost indexes DestinationRules by resolved host;
	// wildcardRules lists those whose host is a wildcard.
	rulesByHost   map[string][]*resource.DestinationRule
	wildcardRules []*resource.DestinationRule
	// gatewayIndex holds every Gateway by "namespace/name".
	gatewayIndex map[string]*resource.Gateway
	// meshSubsets is meshSubsetRouting's index.
	meshSubsets map[string]*resource.VirtualService
}

// service is one host a Service or ServiceEntry defines, with what the
// checks need of it.
type service struct {
	host      string // lower-case; may be a wildcard for ServiceEntries
	namespace string
	exportTo  []string // empty means every namespace
	ports     []servicePort
	// endpoints are the labels of the service's endpoints in the Bundle.
	endpoints []map[string]string
}

type servicePort struct {
	number   uint32
	name     string
	protocol string
}

func newAnalysis(b *resource.Bundle, id translate.Identity) *analysis {
	a := &analysis{b: b, suffix: id.DomainSuffix, gatewayIndex: map[string]*resource.Gateway{}}
	if a.suffix == "" {
		a.suffix = translate.DefaultDomainSuffix
	}
	for _, g := range b.Gateways {
		a.gatewayIndex[g.Namespace+"/"+g.Name] = g
	}
	for _, s := range b.Services {
		if s.Spec == nil {
			continue
		}
		svc := &service{
			host:      strings.ToLower(s.Name + "." + s.Namespace + ".svc." + a.suffix),
			namespace: s.Namespace,
			exportTo:  splitExportTo(s.Annotations["networking.istio.io/exportTo"]),
		}
		for _, p := range s.Spec.Ports {
			svc.ports = append(svc.ports, servicePort{number: uint32(p.Port), name: p.Name, protocol: string(p.Protocol)})
		}
		if len(s.Spec.Selector) > 0 {
			svc.endpoints = a.workloadLabels(s.Namespace, s.Spec.Selector)
		}
		a.services = append(a.services, svc)
	}
	for _, se := range b.ServiceEntries {
		if se.Spec == nil {
			continue
		}
		var ports []servicePort
		for _, p := range se.Spec.Ports {
			if p != nil {
				ports = append(ports, servicePort{number: p.Number, name: p.Name, protocol: p.Protocol})
			}
		}
		var eps []map[string]string
		for _, ep := range se.Spec.Endpoints {
			if ep != nil {
				eps = append(eps, ep.Labels)
			}
		}
		if sel := se.Spec.WorkloadSelector; sel != nil {
			eps = append(eps, a.workloadLabels(se.Namespace, sel.Labels)...)
		}
		for _, h := range se.Spec.Hosts {
			a.services = append(a.services, &service{
				host: strings.ToLower(h), namespace: se.Namespace, exportTo: se.Spec.ExportTo, ports: ports, endpoints: eps,
			})
		}
	}
	a.byHost = map[string][]*service{}
	for _, s := range a.services {
		if strings.HasPrefix(s.host, "*") {
			a.wildcards = append(a.wildcards, s)
		} else {
			a.byHost[s.host] = append(a.byHost[s.host], s)
		}
	}
	a.rulesByHost = map[string][]*resource.DestinationRule{}
	for _, dr := range b.DestinationRules {
		if dr.Spec == nil {
			continue
		}
		if h := a.resolve(dr.Spec.Host, dr.Namespace); strings.HasPrefix(h, "*") {
			a.wildcardRules = append(a.wildcardRules, dr)
		} else {
			a.rulesByHost[h] = append(a.rulesByHost[h], dr)
		}
	}
	return a
}

// workloadLabels returns the labels of the WorkloadEntries in namespace
// that selector selects.
func (a *analysis) workloadLabels(namespace string, selector map[string]string) []map[string]string {
	var out []map[string]string
	for _, we := range a.b.WorkloadEntries {
		if we.Spec != nil && we.Namespace == namespace && labelsMatch(selector, we.Spec.Labels) {
			out = append(out, we.Spec.Labels)
		}
	}
	return out
}

// splitExportTo reads the networking.istio.io/exportTo annotation.
func splitExportTo(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// visibleIn reports whether an object exported to exportTo, living in
// namespace, can be seen from ns; ns "*" asks for visibility everywhere.
func visibleIn(exportTo []string, namespace, ns string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch {
		case e == "*":
			return true
		case ns == "*":
		case e == "." && namespace == ns, e == ns:
			return true
		}
	}
	return false
}

// viewpoints are the namespaces from which an object exported to
// exportTo is used: its own namespace by default, else each listed one.
func viewpoints(exportTo []string, namespace string) []string {
	if len(exportTo) == 0 {
		return []string{namespace}
	}
	out := make([]string, 0, len(exportTo))
	for _, e := range exportTo {
		if e == "." {
			e = namespace
		}
		out = append(out, e)
	}
	return out
}

// resolve completes a short host name as Istio does: a name without dots
// is "<name>.<namespace>.svc.<suffix>"; anything else is taken as written.
func (a *analysis) resolve(host, namespace string) string {
	h := strings.ToLower(host)
	if h == "" || h == "*" || strings.Contains(h, ".") {
		return h
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return h
	}
	return h + "." + namespace + ".svc." + a.suffix
}

// lookup returns the services defining host that can be seen from any of
// the namespaces in from: an exact host first, else wildcard entries that
// cover it (or, for a wildcard destination, that it covers).
func (a *analysis) lookup(host string, from []string) []*service {
	visible := func(s *service) bool {
		for _, ns := range from {
			if visibleIn(s.exportTo, s.namespace, ns) {
				return true
			}
		}
		return false
	}
	var out []*service
	for _, s := range a.byHost[host] {
		if visible(s) {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		return out
	}
	candidates := a.wildcards
	if strings.HasPrefix(host, "*") {
		candidates = a.services
	}
	for _, s := range candidates {
		if s.host != host && (hostCovers(s.host, host) || hostCovers(host, s.host)) && visible(s) {
			out = append(out, s)
		}
	}
	return out
}

// labelsMatch reports whether labels carry every selector label.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// report adds a warning about a field of m.
func (a *analysis) report(m *resource.Meta, code, field, hint, message string) {
	d := m.Diag(diag.Warning, code, field, message)
	d.Hint = hint
	a.out = append(a.out, d)
}

func sortedStrings(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
