package translate

import (
	"slices"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// TestWorkloadIndexMatchesLikeAScan checks the index against the plain
// scan it replaces: same entries, same (Bundle) order, for empty,
// one-label, several-label, unmatched and other-namespace selectors.
func TestWorkloadIndexMatchesLikeAScan(t *testing.T) {
	we := func(ns, name string, labels map[string]string) *resource.WorkloadEntry {
		return &resource.WorkloadEntry{
			Meta: resource.Meta{Kind: resource.KindWorkloadEntry, Namespace: ns, Name: name},
			Spec: &networkingv1.WorkloadEntry{Address: "10.0.0.1", Labels: labels},
		}
	}
	entries := []*resource.WorkloadEntry{
		we("a", "z-first", map[string]string{"app": "web", "version": "v1"}),
		we("a", "b", map[string]string{"app": "web", "version": "v2"}),
		we("a", "c", map[string]string{"app": "db"}),
		we("b", "d", map[string]string{"app": "web", "version": "v1"}),
		we("a", "e", nil),
		{Meta: resource.Meta{Kind: resource.KindWorkloadEntry, Namespace: "a", Name: "no-spec"}},
		we("a", "a-last", map[string]string{"app": "web", "version": "v1", "zone": "z1"}),
	}
	b := &builder{in: &resource.Bundle{WorkloadEntries: entries}}
	for _, tt := range []struct {
		ns       string
		selector map[string]string
		want     []string
	}{
		{"a", nil, []string{"z-first", "b", "c", "e", "a-last"}},
		{"a", map[string]string{"app": "web"}, []string{"z-first", "b", "a-last"}},
		{"a", map[string]string{"app": "web", "version": "v1"}, []string{"z-first", "a-last"}},
		{"a", map[string]string{"version": "v1", "zone": "z1"}, []string{"a-last"}},
		{"a", map[string]string{"app": "cache"}, nil},
		{"b", map[string]string{"app": "web"}, []string{"d"}},
		{"c", nil, nil},
	} {
		var got []string
		for _, e := range b.workloads().matching(tt.ns, tt.selector) {
			got = append(got, e.Name)
		}
		var scan []string
		for _, e := range entries {
			if e.Spec != nil && e.Namespace == tt.ns && labelsMatch(tt.selector, e.Spec.Labels) {
				scan = append(scan, e.Name)
			}
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(got, scan) {
			t.Errorf("namespace %s selector %v: index %v, scan %v, want %v", tt.ns, tt.selector, got, scan, tt.want)
		}
	}
}
