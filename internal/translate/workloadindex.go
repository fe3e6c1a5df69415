package translate

import "github.com/meshgate/meshgate/internal/resource"

// workloadIndex finds the WorkloadEntries a selector matches without
// scanning every entry for every service: entries are indexed by namespace
// and by each of their "key=value" labels, and a selector only checks the
// entries that carry the rarest of its labels. Lists keep Bundle order, so
// the result is the same as a full scan.
type workloadIndex struct {
	byNamespace map[string][]*resource.WorkloadEntry
	byLabel     map[string]map[labelPair][]*resource.WorkloadEntry
}

type labelPair struct{ key, value string }

// workloads returns the index of the Bundle's WorkloadEntries, built on
// first use.
func (b *builder) workloads() *workloadIndex {
	if b.weIndex != nil {
		return b.weIndex
	}
	ix := &workloadIndex{
		byNamespace: map[string][]*resource.WorkloadEntry{},
		byLabel:     map[string]map[labelPair][]*resource.WorkloadEntry{},
	}
	for _, we := range b.in.WorkloadEntries {
		if we.Spec == nil {
			continue
		}
		ix.byNamespace[we.Namespace] = append(ix.byNamespace[we.Namespace], we)
		labels := ix.byLabel[we.Namespace]
		if labels == nil {
			labels = map[labelPair][]*resource.WorkloadEntry{}
			ix.byLabel[we.Namespace] = labels
		}
		for k, v := range we.Spec.Labels {
			p := labelPair{k, v}
			labels[p] = append(labels[p], we)
		}
	}
	b.weIndex = ix
	return ix
}

// matching returns, in Bundle order, the WorkloadEntries of namespace
// whose labels the selector matches (every entry for an empty selector).
func (ix *workloadIndex) matching(namespace string, selector map[string]string) []*resource.WorkloadEntry {
	candidates := ix.byNamespace[namespace]
	for k, v := range selector {
		list := ix.byLabel[namespace][labelPair{k, v}]
		if len(list) < len(candidates) {
			candidates = list
		}
		if len(candidates) == 0 {
			return nil
		}
	}
	var out []*resource.WorkloadEntry
	for _, we := range candidates {
		if labelsMatch(selector, we.Spec.Labels) {
			out = append(out, we)
		}
	}
	return out
}
