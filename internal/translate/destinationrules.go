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
// and host, oldest first. Short hosts resolve against the rule's
// namespace. A rule with a workloadSelector only applies to workloads of
// its own namespace that it selects, so it is kept only when it selects
// this gateway.
func (b *builder) indexDestinationRules() {
	b.drs = map[string]*drNamespace{}
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
		ns := b.drs[dr.Namespace]
		if ns == nil {
			ns = &drNamespace{byHost: map[string]*mergedRule{}}
			b.drs[dr.Namespace] = ns
		}
		r := ns.byHost[host]
		if r == nil {
			r = &mergedRule{host: host, first: dr}
			ns.byHost[host] = r
			if isWildcard(host) {
				ns.wildcards = insertSorted(ns.wildcards, host)
			}
		}
		b.mergeRule(r, dr)
	}
}

func (b *builder) mergeRule(r *mergedRule, dr *resource.DestinationRule) {
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
// order: the gateway's own namespace, then the service's namespace, then
// the root namespace; the first namespace with a matching rule wins, even
// if a later one has a more specific host. When the gateway runs in the
// root namespace itself (istio-system, the default), Istio looks at the
// service's namespace first, so that catch-all rules kept in istio-system
// do not shadow the service-specific rules of the service's namespace.
func (b *builder) destinationRule(svc *service) *mergedRule {
	for _, ns := range b.ruleSearchPath(svc.namespace) {
		if r := b.drs[ns].mostSpecific(svc.host); r != nil {
			return r
		}
	}
	return nil
}

func (b *builder) ruleSearchPath(serviceNamespace string) []string {
	var path []string
	add := func(ns string) {
		for _, p := range path {
			if p == ns {
				return
			}
		}
		if ns != "" {
			path = append(path, ns)
		}
	}
	if b.id.Namespace != rootNamespace {
		add(b.id.Namespace)
	}
	add(serviceNamespace)
	add(rootNamespace)
	return path
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
