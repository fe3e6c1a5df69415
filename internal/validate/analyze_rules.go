package validate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// destinationRules reports rules for hosts nothing defines, rules that
// conflict with an older one for the same host in the same namespace,
// and subsets that select no endpoint.
func (a *analysis) destinationRules() {
	type ruleKey struct{ namespace, host string }
	type merged struct {
		policyFrom *resource.DestinationRule
		subsets    map[string]*resource.DestinationRule
	}
	rules := map[ruleKey]*merged{}
	for _, dr := range a.b.DestinationRules {
		spec := dr.Spec
		if spec == nil || spec.Host == "" {
			continue
		}
		host := a.resolve(spec.Host, dr.Namespace)
		svcs := a.lookup(host, []string{dr.Namespace})
		if len(svcs) == 0 {
			a.report(&dr.Meta, CodeUnknownDestinationRuleHost, "spec.host", "name the host of a Service or ServiceEntry; a short name means namespace "+dr.Namespace,
				fmt.Sprintf("no Service or ServiceEntry defines host %s, so the rule applies to nothing", host))
		}
		// Istio merges rules for one host in one namespace, oldest first;
		// a later rule's traffic policy or subset of the same name loses.
		// Rules with a workload selector are not merged.
		if spec.WorkloadSelector == nil {
			k := ruleKey{dr.Namespace, host}
			m := rules[k]
			if m == nil {
				m = &merged{subsets: map[string]*resource.DestinationRule{}}
				rules[k] = m
			}
			if spec.TrafficPolicy != nil {
				if m.policyFrom == nil {
					m.policyFrom = dr
				} else {
					a.report(&dr.Meta, translate.CodeTrafficPolicyIgnored, "spec.trafficPolicy", "merge the two policies into one DestinationRule",
						fmt.Sprintf("DestinationRule %s/%s, older, already sets the trafficPolicy for host %s; this one is ignored",
							m.policyFrom.Namespace, m.policyFrom.Name, host))
				}
			}
			for i, s := range spec.Subsets {
				if s == nil || s.Name == "" {
					continue
				}
				if prev := m.subsets[s.Name]; prev != nil && prev != dr {
					a.report(&dr.Meta, translate.CodeDuplicateSubset, index("spec.subsets", i)+".name", "rename the subset, or keep one definition",
						fmt.Sprintf("DestinationRule %s/%s, older, already defines subset %q for host %s; this one is ignored",
							prev.Namespace, prev.Name, s.Name, host))
					continue
				}
				m.subsets[s.Name] = dr
			}
		}
		a.emptySubsets(dr, svcs)
	}
}

// emptySubsets warns about subsets whose labels select none of the
// endpoints of the host in the Bundle: routes to them get 503.
func (a *analysis) emptySubsets(dr *resource.DestinationRule, svcs []*service) {
	if len(svcs) == 0 {
		return
	}
	var endpoints []map[string]string
	for _, s := range svcs {
		endpoints = append(endpoints, s.endpoints...)
	}
	for i, s := range dr.Spec.Subsets {
		if s == nil || len(s.Labels) == 0 {
			continue
		}
		selected := false
		for _, ep := range endpoints {
			if labelsMatch(s.Labels, ep) {
				selected = true
				break
			}
		}
		if selected {
			continue
		}
		what := fmt.Sprintf("none of the %d endpoints of %s", len(endpoints), svcs[0].host)
		if len(endpoints) == 0 {
			what = "no endpoint of " + svcs[0].host + " in this configuration"
		}
		a.report(&dr.Meta, translate.CodeEmptySubset, index("spec.subsets", i)+".labels",
			"check the labels against the endpoints' (WorkloadEntry spec.labels, pod labels)",
			fmt.Sprintf("subset %q selects %s (labels %s); requests routed to it get 503", s.Name, what, formatLabels(s.Labels)))
	}
}

// serviceEntryProtocols warns when ServiceEntries give one host and port
// different protocols; which one applies depends on their age.
func (a *analysis) serviceEntryProtocols() {
	type portKey struct {
		host   string
		number uint32
	}
	type use struct {
		se       *resource.ServiceEntry
		field    string
		protocol string
	}
	uses := map[portKey][]use{}
	var order []portKey
	for _, se := range a.b.ServiceEntries {
		if se.Spec == nil {
			continue
		}
		for _, h := range se.Spec.Hosts {
			for i, p := range se.Spec.Ports {
				if p == nil {
					continue
				}
				k := portKey{strings.ToLower(h), p.Number}
				if _, ok := uses[k]; !ok {
					order = append(order, k)
				}
				uses[k] = append(uses[k], use{se, index("spec.ports", i) + ".protocol", strings.ToUpper(p.Protocol)})
			}
		}
	}
	for _, k := range order {
		us := uses[k]
		protocols := map[string]bool{}
		for _, u := range us {
			protocols[u.protocol] = true
		}
		if len(protocols) < 2 {
			continue
		}
		reported := map[*resource.ServiceEntry]bool{}
		for _, u := range us {
			if reported[u.se] {
				continue
			}
			reported[u.se] = true
			a.report(&u.se.Meta, CodeConflictingProtocol, u.field, "give the port one protocol in every ServiceEntry",
				fmt.Sprintf("ServiceEntries give %s port %d the protocols %s", k.host, k.number, strings.Join(sortedStrings(protocols), ", ")))
		}
	}
}

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
