package translate

import (
	"fmt"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// mergedRule is the DestinationRule for one host in one namespace: Istio
// merges every rule of a namespace naming the same host, oldest first.
// The first top-level trafficPolicy wins and later ones are discarded;
// subsets are merged by name, the first definition of a name winning.
type mergedRule struct {
	host  string
	first *resource.DestinationRule
	// policy is the first trafficPolicy, declared by policyFrom.
	policy     *networkingv1.TrafficPolicy
	policyFrom *resource.DestinationRule
	subsets    []subsetDef
	// members are all the rules merged here, oldest first; their
	// annotations (spillover.go) apply to every cluster of the host.
	members []*resource.DestinationRule
	// hidden are the rules for the host that are exported, but not to
	// this gateway's namespace. A rule with only hidden members (first is
	// nil) still shadows less specific hosts of its namespace, as in Istio.
	hidden []*resource.DestinationRule
}

// subsetDef is one subset with the rule that declared it.
type subsetDef struct {
	spec  *networkingv1.Subset
	from  *resource.DestinationRule
	field string
}

func (r *mergedRule) subset(name string) *subsetDef {
	for i := range r.subsets {
		if r.subsets[i].spec.Name == name {
			return &r.subsets[i]
		}
	}
	return nil
}

// drNamespace holds the merged rules of one namespace by host.
type drNamespace struct {
	byHost map[string]*mergedRule
	// wildcards lists the wildcard hosts in ascending order, for a
	// deterministic most-specific search.
	wildcards []string
}

// indexDestinationRules merges the Bundle's DestinationRules by namespace
// and host, oldest first, into the indexes Istio searches for a proxy in
// the gateway's namespace (see destinationRule): the rules of that
// namespace visible within it, the private rules of the root namespace,
// and, per namespace, the rules exported beyond their own namespace. Short
// hosts resolve against the rule's namespace. A rule with a
// workloadSelector only applies to workloads of its own namespace that it
// selects, so it is kept only when it selects this gateway.
func (b *builder) indexDestinationRules() {
	b.drs = map[string]*drNamespace{}
	b.drLocal, b.drRootLocal = &drNamespace{byHost: map[string]*mergedRule{}}, &drNamespace{byHost: map[string]*mergedRule{}}
	def := b.id.ExportTo.DestinationRule
	for _, dr := range b.in.DestinationRules {
		spec := dr.Spec
		if spec == nil {
			b.report(&dr.Meta, diag.Error, CodeNoSpec, "spec", "the DestinationRule has no spec; it is ignored", "")
			continue
		}
		if spec.Host == "" {
			b.report(&dr.Meta, diag.Error, CodeNoDestinationRuleHost, "spec.host",
				"the DestinationRule has no host; it is ignored", "")
			continue
		}
		if sel := spec.WorkloadSelector; sel != nil &&
			(dr.Namespace != b.id.Namespace || !labelsMatch(sel.MatchLabels, b.id.Labels)) {
			continue
		}
		host := resolveShortName(spec.Host, dr.Namespace, b.id.DomainSuffix)
		private := privateOnly(spec.ExportTo, def, dr.Namespace)
		// Within its own namespace a rule applies unless its own exportTo
		// leaves that namespace out; the mesh default plays no part there.
		if dr.Namespace == b.id.Namespace && exportedToNamespace(spec.ExportTo, nil, dr.Namespace, dr.Namespace) {
			b.mergeRule(b.drLocal.rule(host), dr)
		}
		if private {
			if dr.Namespace == rootNamespace {
				b.mergeRule(b.drRootLocal.rule(host), dr)
			}
			continue
		}
		ns := b.drs[dr.Namespace]
		if ns == nil {
			ns = &drNamespace{byHost: map[string]*mergedRule{}}
			b.drs[dr.Namespace] = ns
		}
		r := ns.rule(host)
		if exportedToNamespace(spec.ExportTo, def, dr.Namespace, b.id.Namespace) {
			b.mergeRule(r, dr)
		} else {
			r.hidden = append(r.hidden, dr)
		}
	}
}

// rule returns the merged rule for host, creating an empty one.
func (n *drNamespace) rule(host string) *mergedRule {
	r := n.byHost[host]
	if r == nil {
		r = &mergedRule{host: host}
		n.byHost[host] = r
		if isWildcard(host) {
			n.wildcards = insertSorted(n.wildcards, host)
		}
	}
	return r
}

func (b *builder) mergeRule(r *mergedRule, dr *resource.DestinationRule) {
	if r.first == nil {
		r.first = dr
	}
	r.members = append(r.members, dr)
	spec := dr.Spec
	if spec.TrafficPolicy != nil {
		if r.policy == nil {
			r.policy, r.policyFrom = spec.TrafficPolicy, dr
		} else {
			b.report(&dr.Meta, diag.Warning, CodeTrafficPolicyIgnored, "spec.trafficPolicy",
				fmt.Sprintf("DestinationRule %s, older, already sets the trafficPolicy for host %s; this one is ignored",
					nsName(&r.policyFrom.Meta), r.host),
				"merge the two policies into one DestinationRule")
		}
	}
	for i, s := range spec.Subsets {
		if s == nil {
			continue
		}
		field := resource.JoinIndex("spec.subsets", i)
		if prev := r.subset(s.Name); prev != nil {
			b.report(&dr.Meta, diag.Warning, CodeDuplicateSubset, field+".name",
				fmt.Sprintf("subset %q of host %s is already defined by DestinationRule %s; this definition is ignored",
					s.Name, r.host, nsName(&prev.from.Meta)), "")
			continue
		}
		r.subsets = append(r.subsets, subsetDef{spec: s, from: dr, field: field})
	}
}

func insertSorted(list []string, s string) []string {
	i := 0
	for i < len(list) && list[i] < s {
		i++
	}
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = s
	return list
}

// mostSpecific returns the rule whose host matches host most closely: the
// same host, else the longest wildcard covering it ("*" last).
func (n *drNamespace) mostSpecific(host string) *mergedRule {
	if n == nil {
		return nil
	}
	if r, ok := n.byHost[host]; ok {
		return r
	}
	var best *mergedRule
	for _, w := range n.wildcards {
		if hostSubsetOf(host, w) && (best == nil || len(w) > len(best.host)) {
			best = n.byHost[w]
		}
	}
	return best
}

// destinationRule finds the rule that applies to a service, in Istio's
// order: the rules of the gateway's own namespace, then the rules the
// service's namespace exports to the gateway's, then those the root
// namespace exports to it; the first namespace with a matching rule wins,
// even if a later one has a more specific host. When the gateway runs in
// the root namespace itself (istio-system, the default), only the root
// namespace's private rules come first, so that catch-all rules kept in
// istio-system for everyone do not shadow the service-specific rules of
// the service's namespace. In an exporting namespace the most specific
// host decides: if its rules are not exported to the gateway's namespace,
// that namespace contributes nothing.
func (b *builder) destinationRule(svc *service) *mergedRule {
	for _, n := range b.ruleSearchPath(svc.namespace) {
		r := n.mostSpecific(svc.host)
		switch {
		case r == nil:
		case r.first != nil:
			return r
		default:
			b.reportHiddenRule(r, svc)
		}
	}
	return nil
}

func (b *builder) ruleSearchPath(serviceNamespace string) []*drNamespace {
	var path []*drNamespace
	if b.id.Namespace != rootNamespace {
		path = append(path, b.drLocal)
	} else {
		path = append(path, b.drRootLocal)
	}
	if serviceNamespace != "" && serviceNamespace != rootNamespace {
		path = append(path, b.drs[serviceNamespace])
	}
	return append(path, b.drs[rootNamespace])
}

// reportHiddenRule says that a DestinationRule on the lookup path would
// apply to a service, but is not exported to this gateway's namespace.
func (b *builder) reportHiddenRule(r *mergedRule, svc *service) {
	for _, dr := range r.hidden {
		b.report(&dr.Meta, diag.Warning, CodeHiddenDestinationRule, "spec.exportTo",
			fmt.Sprintf("the rule would apply to %s, but under %s it is not visible in namespace %s, where this gateway runs; the gateway does not use it",
				svc.host, describeExportTo(dr.Spec.ExportTo, b.id.ExportTo.DestinationRule), b.id.Namespace),
			fmt.Sprintf("add %q (or \"*\") to exportTo", b.id.Namespace))
	}
}

// policySource says where an effective policy component was written, for
// diagnostics.
type policySource struct {
	dr    *resource.DestinationRule
	field string
}

// effectivePolicy is the traffic policy of one cluster, component by
// component. outlier is a component of its own: a subset that sets only a
// loadBalancer keeps the rule's outlierDetection, one that sets
// outlierDetection replaces it wholesale.
type effectivePolicy struct {
	lb          *networkingv1.LoadBalancerSettings
	lbFrom      policySource
	pool        *networkingv1.ConnectionPoolSettings
	poolFrom    policySource
	outlier     *networkingv1.OutlierDetection
	outlierFrom policySource
	tls         *networkingv1.ClientTLSSettings
	tlsFrom     policySource
}

// clusterPolicy computes the policy of the cluster for (rule, subset,
// port), following Istio: the rule-level policy, replaced wholesale by its
// portLevelSettings entry for the port if there is one (the API: "Traffic
// settings specified at the destination-level will not be inherited when
// overridden by port-level settings, i.e. default values will be applied
// to fields omitted in port-level traffic policies"); then, for a subset
// with a policy, each component the subset sets replaces the rule's, and a
// subset portLevelSettings entry for the port replaces all of them.
func clusterPolicy(r *mergedRule, subset *subsetDef, port uint32) effectivePolicy {
	var out effectivePolicy
	if r == nil {
		return out
	}
	if r.policy != nil {
		src := policySource{dr: r.policyFrom, field: "spec.trafficPolicy"}
		out = policyComponents(r.policy, src, port)
	}
	if subset == nil || subset.spec.TrafficPolicy == nil {
		return out
	}
	src := policySource{dr: subset.from, field: subset.field + ".trafficPolicy"}
	sub := policyComponents(subset.spec.TrafficPolicy, src, port)
	wholesale := portLevel(subset.spec.TrafficPolicy, port) >= 0
	if sub.lb != nil || wholesale {
		out.lb, out.lbFrom = sub.lb, sub.lbFrom
	}
	if sub.pool != nil || wholesale {
		out.pool, out.poolFrom = sub.pool, sub.poolFrom
	}
	if sub.outlier != nil || wholesale {
		out.outlier, out.outlierFrom = sub.outlier, sub.outlierFrom
	}
	if sub.tls != nil || wholesale {
		out.tls, out.tlsFrom = sub.tls, sub.tlsFrom
	}
	return out
}

// policyComponents reads the components of p that apply to port.
func policyComponents(p *networkingv1.TrafficPolicy, src policySource, port uint32) effectivePolicy {
	if k := portLevel(p, port); k >= 0 {
		pl := p.PortLevelSettings[k]
		src.field = resource.JoinIndex(src.field+".portLevelSettings", k)
		return effectivePolicy{
			lb: pl.LoadBalancer, lbFrom: policySource{src.dr, src.field + ".loadBalancer"},
			pool: pl.ConnectionPool, poolFrom: policySource{src.dr, src.field + ".connectionPool"},
			outlier: pl.OutlierDetection, outlierFrom: policySource{src.dr, src.field + ".outlierDetection"},
			tls: pl.Tls, tlsFrom: policySource{src.dr, src.field + ".tls"},
		}
	}
	return effectivePolicy{
		lb: p.LoadBalancer, lbFrom: policySource{src.dr, src.field + ".loadBalancer"},
		pool: p.ConnectionPool, poolFrom: policySource{src.dr, src.field + ".connectionPool"},
		outlier: p.OutlierDetection, outlierFrom: policySource{src.dr, src.field + ".outlierDetection"},
		tls: p.Tls, tlsFrom: policySource{src.dr, src.field + ".tls"},
	}
}

// portLevel returns the index of the first portLevelSettings entry for
// port, or -1.
func portLevel(p *networkingv1.TrafficPolicy, port uint32) int {
	for k, pl := range p.GetPortLevelSettings() {
		if pl != nil && pl.GetPort().GetNumber() == port {
			return k
		}
	}
	return -1
}
