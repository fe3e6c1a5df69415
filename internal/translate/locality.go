package translate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// Locality modes, as recorded in LocalityPolicy.Mode.
const (
	modeNone             = "none"
	modeDistribute       = "distribute"
	modeFailover         = "failover"
	modeFailoverPriority = "failoverPriority"
)

// member is one endpoint of a cluster being built: the registry entry it
// came from (for its position) and the snapshot endpoint it becomes.
type member struct {
	ep  *endpoint
	out snapshot.Endpoint
}

// localitySetting is the locality load-balancing setting in force for one
// cluster, after Istio's precedence (GetEffectiveLbSetting): the
// DestinationRule's localityLbSetting, else the service's traffic
// distribution, else the mesh default, which is {enabled: true}.
type localitySetting struct {
	// source is LocalityPolicy.Source.
	source string
	// dr and field locate a setting written in a DestinationRule, for
	// diagnostics; dr is nil for traffic distribution and the mesh default.
	dr    *resource.DestinationRule
	field string
	// disabled is enabled: false: no locality logic at all, not even the
	// implicit failover that outlier detection turns on.
	disabled bool
	// forced is set for the traffic-distribution presets, whose priorities
	// apply without outlier detection.
	forced bool
	// note explains a setting passed over on the way, for the Reason.
	note             string
	distribute       []*networkingv1.LocalityLoadBalancerSetting_Distribute
	failover         []*networkingv1.LocalityLoadBalancerSetting_Failover
	failoverPriority []string
}

// effectiveLocality resolves the setting for a cluster of svc under
// policy. A DestinationRule setting that Istio's validation would reject
// (see validDistribute) is ignored as a whole, and the next source applies.
func (b *builder) effectiveLocality(svc *service, policy effectivePolicy) localitySetting {
	lb, src := policy.lb, policy.lbFrom
	note := ""
	if lb.GetZoneAwareLbSetting() != nil {
		b.report(&src.dr.Meta, diag.Warning, CodeZoneAware, src.field+".zoneAwareLbSetting",
			"zoneAwareLbSetting is not supported; it is ignored and localityLbSetting, the service's traffic distribution or the mesh default applies instead",
			"use localityLbSetting")
	}
	if s := lb.GetLocalityLbSetting(); s != nil {
		ls := localitySetting{
			source: "DestinationRule " + nsName(&src.dr.Meta),
			dr:     src.dr,
			field:  src.field + ".localityLbSetting",
		}
		// "enabled ... will override mesh-wide settings in entirety":
		// false switches everything off; true or unset uses this setting.
		if e := s.GetEnabled(); e != nil && !e.GetValue() {
			ls.disabled = true
			return ls
		}
		if b.validDistribute(s, ls) {
			ls.distribute, ls.failover, ls.failoverPriority = s.Distribute, s.Failover, s.FailoverPriority
			return ls
		}
		note = "the localityLbSetting of " + ls.source + " is invalid and ignored; "
	}
	if fp := svc.td.failoverPriority(); fp != nil {
		return localitySetting{source: svc.td.source, forced: true, failoverPriority: fp, note: note}
	}
	if svc.td.source != "" {
		// An unknown annotation value: Any, and no fall-through.
		note += "the traffic distribution from the " + svc.td.source + " is not a known value, which means Any; "
	}
	return localitySetting{source: "mesh default", note: note}
}

// applyLocality assigns each member its priority and locality weight for
// this gateway's position, following Istio's ApplyLocalityLoadBalancer:
// distribute sets locality weights (and drops the localities it does not
// name); otherwise, with outlier detection or a forced setting,
// failoverPriority and/or locality failover set priorities; otherwise all
// endpoints share priority 0. It returns the members that remain and
// records the outcome in c.Locality and c.LocalityWeighted.
func (b *builder) applyLocality(c *snapshot.Cluster, svc *service, policy effectivePolicy, members []member) []member {
	ls := b.effectiveLocality(svc, policy)
	lp := &snapshot.LocalityPolicy{Source: ls.source, Mode: modeNone, TrafficDistribution: svc.td.mode, Reason: ls.note}
	c.Locality = lp
	if ls.dr != nil && svc.td.mode != "" {
		lp.Reason += "the DestinationRule's localityLbSetting overrides the service's traffic distribution; "
	}
	switch {
	case ls.disabled:
		lp.Reason += "localityLbSetting.enabled is false, which turns locality load balancing off: every endpoint is in priority 0"
	case len(ls.distribute) > 0:
		b.reportDistributeOverrides(ls)
		members = b.applyDistribute(c, ls, members)
	case ls.forced || policy.outlier != nil:
		b.reportDuplicateLabels(ls)
		b.applyPriorities(c, ls, members)
		if ls.forced {
			lp.Reason += fmt.Sprintf("traffic distribution %s ranks endpoints by %s even without outlier detection",
				svc.td.mode, strings.Join(ls.failoverPriority, ", "))
		} else {
			lp.Reason += "outlierDetection turns on locality failover"
		}
	case len(ls.failover) > 0 || len(ls.failoverPriority) > 0:
		b.reportDuplicateLabels(ls)
		b.reportFailoverWithoutOutlier(ls)
		lp.Reason += "failover and failoverPriority need outlierDetection, which the cluster lacks: every endpoint is in priority 0"
	default:
		lp.Reason += "locality failover needs outlierDetection, which the cluster lacks: every endpoint is in priority 0"
	}
	return members
}

// applyPriorities ranks every member (endpointRank), compacts the ranks to
// priorities 0..K as Envoy requires, and, when failover or
// failoverPriority is set, weights each locality of a priority by the sum
// of its endpoints' weights, as Istio's split LocalityLbEndpoints are.
// Istio sets locality_weighted_lb_config only in that case: plain default
// failover balances each priority flat.
func (b *builder) applyPriorities(c *snapshot.Cluster, ls localitySetting, members []member) {
	lp := c.Locality
	lp.Mode = modeFailover
	if len(ls.failoverPriority) > 0 {
		lp.Mode = modeFailoverPriority
		lp.FailoverPriority = slices.Clone(ls.failoverPriority)
	}
	for _, f := range ls.failover {
		lp.Failover = append(lp.Failover, f.GetFrom()+"->"+f.GetTo())
	}
	positions := make([]position, len(members))
	for i, m := range members {
		positions[i] = position{locality: m.ep.locality, labels: m.ep.topology}
	}
	for i, p := range assignPriorities(b.gateway, positions, ls.failoverPriority, ls.failover) {
		members[i].out.Priority = p
	}
	c.LocalityWeighted = len(ls.failover) > 0 || len(ls.failoverPriority) > 0
	if c.LocalityWeighted {
		sumLocalityWeights(members)
	}
}

// sumLocalityWeights gives every member the summed weight of the members
// sharing its priority and locality.
func sumLocalityWeights(members []member) {
	type group struct {
		priority uint32
		locality snapshot.Locality
	}
	sums := map[group]uint32{}
	for _, m := range members {
		sums[group{m.out.Priority, m.out.Locality}] += m.out.Weight
	}
	for i := range members {
		m := &members[i].out
		m.LocalityWeight = sums[group{m.Priority, m.Locality}]
	}
}

// assignPriorities returns the priority of each endpoint as seen from the
// gateway: endpointRank, compacted to 0..K without gaps.
func assignPriorities(gw position, eps []position, failoverPriority []string,
	failover []*networkingv1.LocalityLoadBalancerSetting_Failover) []uint32 {
	ranks := make([]int, len(eps))
	for i, ep := range eps {
		ranks[i] = endpointRank(gw, ep, failoverPriority, failover)
	}
	return compactPriorities(ranks)
}

// endpointRank is the uncompacted priority of an endpoint. With
// failoverPriority alone it is the label rank; with failover alone, or
// with neither (Istio's default failover), the locality rank; with both,
// Istio combines them as labelRank*5 + localityRank, 5 being one more than
// the largest locality rank, so labels decide first and locality breaks
// ties.
func endpointRank(gw, ep position, failoverPriority []string,
	failover []*networkingv1.LocalityLoadBalancerSetting_Failover) int {
	if len(failoverPriority) == 0 {
		return localityRank(gw.locality, ep.locality, failover)
	}
	r := failoverPriorityRank(gw.labels, ep.labels, failoverPriority)
	if len(failover) == 0 {
		return r
	}
	return r*5 + localityRank(gw.locality, ep.locality, failover)
}

// failoverPriorityRank ranks an endpoint by an ordered label list, as
// Istio's failoverPriority does. Each entry is a label key, compared
// between gateway and endpoint, or "key=value", compared between the
// literal value and the endpoint. With N entries and the first mismatch at
// index j the rank is N-j; if every entry matches it is 0. A label absent
// on both sides matches.
//
// Network special case: when the first entry is topology.istio.io/network
// and it does not match, the walk goes on over the other entries and N is
// added to the result, so every endpoint on the gateway's network (ranks
// 0..N-1) comes before every remote one (N..2N-1), and remote endpoints
// are still ordered by the remaining labels.
func failoverPriorityRank(gw, ep map[string]string, failoverPriority []string) int {
	n := len(failoverPriority)
	penalty := 0
	for j, entry := range failoverPriority {
		key, want, literal := splitPriorityLabel(entry)
		if !literal {
			want = gw[key]
		}
		if ep[key] == want {
			continue
		}
		if j == 0 && key == labelNetwork {
			penalty = n
			continue
		}
		return n - j + penalty
	}
	return penalty
}

// splitPriorityLabel splits a failoverPriority entry. As in Istio, only an
// entry with exactly one "=" is the key=value form; "a=b=c" is the key "a"
// compared with the gateway's own value.
func splitPriorityLabel(entry string) (key, value string, literal bool) {
	parts := strings.Split(entry, "=")
	if len(parts) == 2 {
		return parts[0], parts[1], true
	}
	return parts[0], "", false
}

// localityRank is Istio's default locality failover rank: 0 for the same
// region, zone and subzone as the gateway, 1 for the same region and zone,
// 2 for the same region, 3 for another region. With failover entries, if
// one names the gateway's region as from, endpoints in a region other than
// its to rank 4: the named region is tried first, all others last.
// Empty parts compare equal, as Istio compares them.
func localityRank(gw, ep snapshot.Locality, failover []*networkingv1.LocalityLoadBalancerSetting_Failover) int {
	switch {
	case gw.Region != ep.Region:
		for _, f := range failover {
			if f.GetFrom() == gw.Region {
				if ep.Region != f.GetTo() {
					return 4
				}
				break
			}
		}
		return 3
	case gw.Zone != ep.Zone:
		return 2
	case gw.Subzone != ep.Subzone:
		return 1
	}
	return 0
}

// compactPriorities maps ranks onto 0..K keeping their order, since Envoy
// requires priorities without gaps.
func compactPriorities(ranks []int) []uint32 {
	distinct := slices.Clone(ranks)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	out := make([]uint32, len(ranks))
	for i, r := range ranks {
		k, _ := slices.BinarySearch(distinct, r)
		out[i] = uint32(k)
	}
	return out
}

// reportFailoverWithoutOutlier warns about the best-known trap of Istio's
// locality load balancing: failover settings do nothing unless the
// cluster also has outlierDetection, and Istio says nothing about it.
func (b *builder) reportFailoverWithoutOutlier(ls localitySetting) {
	if ls.dr == nil {
		return
	}
	field, what := ls.field+".failover", "failover"
	if len(ls.failoverPriority) > 0 {
		field, what = ls.field+".failoverPriority", "failoverPriority"
	}
	b.report(&ls.dr.Meta, diag.Warning, CodeFailoverWithoutOutlier, field,
		what+" has no effect without outlierDetection: Istio silently ignores it, so every endpoint stays in priority 0 and traffic never fails over",
		"add outlierDetection (even {}) to the same trafficPolicy, subset or portLevelSettings entry")
}

// reportDuplicateLabels warns about a failoverPriority label listed twice:
// the second entry can only match where the first did (or never, for two
// different literal values), so it adds nothing to the order.
func (b *builder) reportDuplicateLabels(ls localitySetting) {
	if ls.dr == nil {
		return
	}
	seen := map[string]int{}
	for i, entry := range ls.failoverPriority {
		key, _, _ := splitPriorityLabel(entry)
		if first, dup := seen[key]; dup {
			b.report(&ls.dr.Meta, diag.Warning, CodeFailoverPriorityDuplicate,
				resource.JoinIndex(ls.field+".failoverPriority", i),
				fmt.Sprintf("label %q is already listed at failoverPriority[%d]; this entry does not change the order", key, first),
				"list each label once")
			continue
		}
		seen[key] = i
	}
}
