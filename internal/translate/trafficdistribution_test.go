package translate

import (
	"slices"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
)

// TestServiceTrafficDistribution checks Istio's precedence: a known
// Service spec value, then the object's annotation (case-insensitive; any
// other non-empty value is Any and stops there), then the Namespace's
// annotation, then Any.
func TestServiceTrafficDistribution(t *testing.T) {
	ptr := func(s string) *string { return &s }
	ann := func(v string) map[string]string {
		return map[string]string{annotationTrafficDistribution: v}
	}
	namespaces := map[string]*resource.Namespace{
		"close": {Meta: resource.Meta{Kind: resource.KindNamespace, Name: "close", Annotations: ann("PreferClose")}},
		"node":  {Meta: resource.Meta{Kind: resource.KindNamespace, Name: "node", Annotations: ann("PREFERSAMENODE")}},
		"bad":   {Meta: resource.Meta{Kind: resource.KindNamespace, Name: "bad", Annotations: ann("Everywhere")}},
		"empty": {Meta: resource.Meta{Kind: resource.KindNamespace, Name: "empty", Annotations: ann("")}},
	}
	tests := []struct {
		name        string
		kind        string
		namespace   string
		spec        *string
		annotations map[string]string
		want        trafficDistribution
		warns       bool
	}{
		{"nothing", resource.KindService, "plain", nil, nil, trafficDistribution{}, false},
		{"spec PreferClose", resource.KindService, "plain", ptr("PreferClose"), nil,
			trafficDistribution{tdPreferSameZone, "Service trafficDistribution"}, false},
		{"spec PreferSameZone", resource.KindService, "plain", ptr("PreferSameZone"), nil,
			trafficDistribution{tdPreferSameZone, "Service trafficDistribution"}, false},
		{"spec PreferSameNode beats annotation", resource.KindService, "plain", ptr("PreferSameNode"), ann("PreferClose"),
			trafficDistribution{tdPreferSameNode, "Service trafficDistribution"}, false},
		{"spec is case-sensitive and falls through", resource.KindService, "plain", ptr("preferclose"), ann("PreferSameNode"),
			trafficDistribution{tdPreferSameNode, "annotation on Service plain/svc"}, true},
		{"empty spec falls through", resource.KindService, "close", ptr(""), nil,
			trafficDistribution{tdPreferSameZone, "annotation on Namespace close"}, false},
		{"annotation is case-insensitive", resource.KindService, "plain", nil, ann("preferSAMEzone"),
			trafficDistribution{tdPreferSameZone, "annotation on Service plain/svc"}, false},
		{"annotation beats namespace", resource.KindService, "node", nil, ann("PreferClose"),
			trafficDistribution{tdPreferSameZone, "annotation on Service node/svc"}, false},
		{"unknown annotation is Any, no fall-through", resource.KindService, "node", nil, ann("Nearby"),
			trafficDistribution{"", "annotation on Service node/svc"}, true},
		{"empty annotation falls through", resource.KindService, "node", nil, ann(""),
			trafficDistribution{tdPreferSameNode, "annotation on Namespace node"}, false},
		{"ServiceEntry annotation", resource.KindServiceEntry, "plain", nil, ann("PreferClose"),
			trafficDistribution{tdPreferSameZone, "annotation on ServiceEntry plain/svc"}, false},
		{"namespace", resource.KindServiceEntry, "close", nil, nil,
			trafficDistribution{tdPreferSameZone, "annotation on Namespace close"}, false},
		{"unknown namespace value is Any", resource.KindService, "bad", nil, nil,
			trafficDistribution{"", "annotation on Namespace bad"}, true},
		{"empty namespace value", resource.KindService, "empty", nil, nil, trafficDistribution{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}, namespaces: namespaces}
			m := &resource.Meta{Kind: tt.kind, Namespace: tt.namespace, Name: "svc", Annotations: tt.annotations}
			got := b.serviceTrafficDistribution(m, tt.spec)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if warned := hasCode(b.diags, CodeTrafficDistribution); warned != tt.warns {
				t.Errorf("warning = %v, want %v: %v", warned, tt.warns, b.diags)
			}
		})
	}
}

// TestTrafficDistributionPresets checks the rankings Istio's code gives
// each mode at an Envoy hop.
func TestTrafficDistributionPresets(t *testing.T) {
	zone := trafficDistribution{mode: tdPreferSameZone}.failoverPriority()
	node := trafficDistribution{mode: tdPreferSameNode}.failoverPriority()
	if want := []string{labelNetwork, labelRegion, labelZone}; !slices.Equal(zone, want) {
		t.Errorf("PreferSameZone = %v, want %v", zone, want)
	}
	if want := []string{labelNetwork, labelRegion, labelZone, labelSubzone, labelHostname}; !slices.Equal(node, want) {
		t.Errorf("PreferSameNode = %v, want %v", node, want)
	}
	if got := (trafficDistribution{}).failoverPriority(); got != nil {
		t.Errorf("Any = %v, want none", got)
	}
}
