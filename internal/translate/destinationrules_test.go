package translate

import (
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
	"istio.io/api/type/v1beta1"
)

func dr(ns, name, host string) *resource.DestinationRule {
	return destinationRuleObj(ns, name, &networkingv1.DestinationRule{Host: host})
}

// exported is dr with an exportTo.
func exported(ns, name, host string, exportTo ...string) *resource.DestinationRule {
	r := dr(ns, name, host)
	r.Spec.ExportTo = exportTo
	return r
}

func TestDestinationRuleLookup(t *testing.T) {
	const echo = "echo.default.svc.cluster.local"
	selected := dr("gateways", "selected", "*")
	selected.Spec.WorkloadSelector = &v1beta1.WorkloadSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}}
	other := dr("gateways", "other", echo)
	other.Spec.WorkloadSelector = &v1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "sidecar"}}

	tests := []struct {
		name      string
		gatewayNS string
		rules     []*resource.DestinationRule
		want      string // "namespace/name" of the chosen rule, "" for none
		// meshDefault is MeshConfig defaultDestinationRuleExportTo.
		meshDefault []string
	}{
		{"exact beats wildcard", "", []*resource.DestinationRule{
			dr("default", "star", "*"), dr("default", "exact", "echo"),
		}, "default/exact", nil},
		{"longest wildcard wins", "", []*resource.DestinationRule{
			dr("default", "star", "*"), dr("default", "local", "*.cluster.local"),
			dr("default", "svc", "*.default.svc.cluster.local"), dr("default", "other", "*.example.com"),
		}, "default/svc", nil},
		{"gateway namespace beats service namespace", "gateways", []*resource.DestinationRule{
			dr("default", "exact", echo), dr("gateways", "star", "*"),
		}, "gateways/star", nil},
		{"service namespace beats root namespace", "gateways", []*resource.DestinationRule{
			dr("istio-system", "exact", echo), dr("default", "star", "*"),
		}, "default/star", nil},
		{"gateway in the root namespace looks at the service namespace first", "istio-system", []*resource.DestinationRule{
			dr("istio-system", "exact", echo), dr("default", "star", "*"),
		}, "default/star", nil},
		{"root namespace as a last resort", "gateways", []*resource.DestinationRule{
			dr("istio-system", "mesh-wide", "*"), dr("elsewhere", "exact", echo),
		}, "istio-system/mesh-wide", nil},
		{"other namespaces do not apply", "gateways", []*resource.DestinationRule{
			dr("elsewhere", "exact", echo),
		}, "", nil},
		{"short hosts resolve against the rule's namespace", "", []*resource.DestinationRule{
			dr("prod", "short", "echo"), dr("default", "short", "echo"),
		}, "default/short", nil},
		{"workloadSelector selecting the gateway applies", "gateways", []*resource.DestinationRule{
			other, selected,
		}, "gateways/selected", nil},
		{"a service namespace rule exported elsewhere does not apply", "gateways", []*resource.DestinationRule{
			exported("default", "exact", echo, "."), dr("istio-system", "mesh-wide", "*"),
		}, "istio-system/mesh-wide", nil},
		{"a rule exported to the gateway namespace by name applies", "gateways", []*resource.DestinationRule{
			exported("default", "exact", echo, "team", "gateways"),
		}, "default/exact", nil},
		{"the hidden most specific rule hides its namespace's wildcard", "gateways", []*resource.DestinationRule{
			exported("default", "exact", echo, "team"), dr("default", "star", "*"), dr("istio-system", "mesh-wide", "*"),
		}, "istio-system/mesh-wide", nil},
		{"a private rule in the gateway namespace applies", "gateways", []*resource.DestinationRule{
			exported("gateways", "private", echo, "."), dr("default", "exact", echo),
		}, "gateways/private", nil},
		{"a gateway namespace rule exported only elsewhere does not apply there", "gateways", []*resource.DestinationRule{
			exported("gateways", "away", echo, "team"), dr("default", "exact", echo),
		}, "default/exact", nil},
		{"a private root rule comes first for a gateway in the root namespace", "istio-system", []*resource.DestinationRule{
			exported("istio-system", "private", echo, "."), dr("default", "exact", echo),
		}, "istio-system/private", nil},
		{"a private root rule does not apply to other namespaces", "gateways", []*resource.DestinationRule{
			exported("istio-system", "private", "*", "."),
		}, "", nil},
		{"mesh default \".\" keeps rules without exportTo private", "gateways", []*resource.DestinationRule{
			dr("default", "exact", echo), dr("istio-system", "public", "*"),
		}, "", []string{"."}},
		{"mesh default does not override an explicit exportTo", "gateways", []*resource.DestinationRule{
			exported("default", "exact", echo, "*"),
		}, "default/exact", []string{"."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bl := &builder{
				in:       &resource.Bundle{DestinationRules: tt.rules},
				id:       Identity{Namespace: tt.gatewayNS, ExportTo: ExportDefaults{DestinationRule: tt.meshDefault}}.withDefaults(),
				reported: map[string]bool{},
			}
			bl.indexDestinationRules()
			got := ""
			if r := bl.destinationRule(&service{host: echo, namespace: "default"}); r != nil {
				got = nsName(&r.first.Meta)
			}
			if got != tt.want {
				t.Errorf("rule = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDestinationRulesMerge(t *testing.T) {
	first := destinationRuleObj("default", "a", &networkingv1.DestinationRule{
		Host:    "echo",
		Subsets: []*networkingv1.Subset{subset("v1", map[string]string{"version": "v1"})},
	})
	second := destinationRuleObj("default", "b", &networkingv1.DestinationRule{
		Host:          "echo.default.svc.cluster.local",
		TrafficPolicy: simpleLB(networkingv1.LoadBalancerSettings_RANDOM),
		Subsets: []*networkingv1.Subset{
			subset("v1", map[string]string{"version": "other"}),
			subset("v2", map[string]string{"version": "v2"}),
		},
	})
	third := destinationRuleObj("default", "c", &networkingv1.DestinationRule{
		Host:          "echo",
		TrafficPolicy: simpleLB(networkingv1.LoadBalancerSettings_ROUND_ROBIN),
	})
	bl := &builder{
		in:       &resource.Bundle{DestinationRules: []*resource.DestinationRule{first, second, third}},
		id:       Identity{}.withDefaults(),
		reported: map[string]bool{},
	}
	bl.indexDestinationRules()
	r := bl.destinationRule(&service{host: "echo.default.svc.cluster.local", namespace: "default"})
	if r == nil || r.first != first || r.policyFrom != second {
		t.Fatalf("merged rule = %+v", r)
	}
	if len(r.subsets) != 2 || r.subset("v1").from != first || r.subset("v2").from != second {
		t.Errorf("subsets = %+v", r.subsets)
	}
	if !hasCode(bl.diags, CodeTrafficPolicyIgnored) || !hasCode(bl.diags, CodeDuplicateSubset) || len(bl.diags) != 2 {
		t.Errorf("diagnostics = %v", bl.diags)
	}
}
