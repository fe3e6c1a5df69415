package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// validDistribute checks distribute as Istio's validation does: every
// weight in [1, 100], the weights of each from summing to 100, and at most
// one "*", at the end, in each locality. Istio rejects a DestinationRule
// that fails; meshgate reports an error and ignores its localityLbSetting.
func (b *builder) validDistribute(s *networkingv1.LocalityLoadBalancerSetting, ls localitySetting) bool {
	ok := true
	bad := func(field, msg, hint string) {
		ok = false
		b.report(&ls.dr.Meta, diag.Error, CodeDistribute, field,
			msg+"; Istio rejects such a DestinationRule, and its localityLbSetting is ignored", hint)
	}
	for i, d := range s.GetDistribute() {
		field := resource.JoinIndex(ls.field+".distribute", i)
		if !validLocalityPattern(d.GetFrom()) {
			bad(field+".from", fmt.Sprintf("locality %q is not region[/zone[/subzone]] with at most one \"*\", at the end", d.GetFrom()),
				`write e.g. "us-west/*" or "us-west/zone1"`)
		}
		var sum uint64
		for _, loc := range sortedKeys(d.GetTo()) {
			w := d.GetTo()[loc]
			sum += uint64(w)
			if w < 1 || w > 100 {
				bad(resource.JoinKey(field+".to", loc), fmt.Sprintf("weight %d is outside [1, 100]", w), "")
			}
			if !validLocalityPattern(loc) {
				bad(resource.JoinKey(field+".to", loc),
					fmt.Sprintf("locality %q is not region[/zone[/subzone]] with at most one \"*\", at the end", loc),
					`write e.g. "us-west/*" or "us-west/zone1"`)
			}
		}
		if sum != 100 {
			bad(field+".to", fmt.Sprintf("the weights of distribute[%d] (from %q) sum to %d, not 100", i, d.GetFrom(), sum),
				"make the weights of each from add up to 100")
		}
	}
	return ok
}

// validLocalityPattern is Istio's rule for distribute localities: at most
// one "*", and only as the last character.
func validLocalityPattern(s string) bool {
	n := strings.Count(s, "*")
	return n == 0 || (n == 1 && strings.HasSuffix(s, "*"))
}

// localityMatch reports whether a locality matches a distribute pattern
// the way Istio's LocalityMatch does: the region must equal or be "*"; the
// zone and subzone must equal, be "*", or be left out.
func localityMatch(l snapshot.Locality, pattern string) bool {
	p := parseLocality(pattern)
	return (p.Region == "*" || p.Region == l.Region) &&
		(p.Zone == "*" || p.Zone == "" || p.Zone == l.Zone) &&
		(p.Subzone == "*" || p.Subzone == "" || p.Subzone == l.Subzone)
}

// localityGroup is the endpoints of one locality and their summed weight,
// which is the locality's weight when nothing else sets it.
type localityGroup struct {
	locality snapshot.Locality
	weight   uint32
}

// distributeWeights applies Istio's applyLocalityWeights. The first entry
// whose from matches the gateway's locality decides; within it each to
// pattern claims the groups it matches that no earlier pattern claimed,
// and a claimed group's weight becomes ceil(groupWeight * w / total), total
// being the summed weight of the groups the pattern claimed, so a wildcard
// shares its weight between localities in proportion to their endpoints.
// Groups no pattern claims get weight 0: they receive no traffic. It
// returns the new weights and the index of the deciding entry, or the
// groups' own weights and -1 when no from matches.
//
// Istio visits the to patterns in map order, which is random when
// patterns overlap; meshgate visits the most specific first (most named
// parts), then in lexical order, so the result is stable.
func distributeWeights(gw snapshot.Locality, groups []localityGroup,
	distribute []*networkingv1.LocalityLoadBalancerSetting_Distribute) ([]uint32, int) {
	weights := make([]uint32, len(groups))
	for i, d := range distribute {
		if d == nil || !localityMatch(gw, d.GetFrom()) {
			continue
		}
		claimed := make([]bool, len(groups))
		for _, pattern := range specificFirst(d.GetTo()) {
			var total uint64
			var mine []int
			for k, g := range groups {
				if !claimed[k] && localityMatch(g.locality, pattern) {
					claimed[k] = true
					mine = append(mine, k)
					total += uint64(g.weight)
				}
			}
			w := uint64(d.GetTo()[pattern])
			for _, k := range mine {
				if share := (uint64(groups[k].weight)*w + total - 1) / total; share > 0 {
					weights[k] = uint32(min(share, 1<<32-1))
				}
			}
		}
		return weights, i
	}
	for k, g := range groups {
		weights[k] = g.weight
	}
	return weights, -1
}

// specificFirst orders distribute patterns by the number of parts they
// name, most first, then lexically.
func specificFirst(to map[string]uint32) []string {
	named := func(p string) int {
		n := 0
		for _, part := range strings.Split(p, "/") {
			if part != "" && part != "*" {
				n++
			}
		}
		return n
	}
	keys := sortedKeys(to)
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(named(b), named(a)) })
	return keys
}

// applyDistribute sets every member's locality weight from distribute and
// drops the members of localities it sends nothing to. Everything stays
// in priority 0.
func (b *builder) applyDistribute(c *snapshot.Cluster, ls localitySetting, members []member) []member {
	lp := c.Locality
	lp.Mode = modeDistribute
	c.LocalityWeighted = true

	var groups []localityGroup
	index := map[snapshot.Locality]int{}
	for _, m := range members {
		k, ok := index[m.out.Locality]
		if !ok {
			k = len(groups)
			index[m.out.Locality] = k
			groups = append(groups, localityGroup{locality: m.out.Locality})
		}
		groups[k].weight += m.out.Weight
	}
	weights, from := distributeWeights(b.gateway.locality, groups, ls.distribute)
	if from < 0 {
		lp.Reason += fmt.Sprintf("no distribute entry matches this gateway's locality %q: each locality is weighted by its endpoints",
			b.gateway.locality.String())
	} else {
		lp.Reason += fmt.Sprintf("distribute[%d] (from %q) matches this gateway's locality %q",
			from, ls.distribute[from].GetFrom(), b.gateway.locality.String())
	}

	kept := members[:0]
	for _, m := range members {
		if w := weights[index[m.out.Locality]]; w > 0 {
			m.out.LocalityWeight = w
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 && len(members) > 0 {
		b.report(&ls.dr.Meta, diag.Warning, CodeDistributeNoEndpoints,
			resource.JoinIndex(ls.field+".distribute", from)+".to",
			fmt.Sprintf("for this gateway (locality %q) the entry sends traffic only to localities where %s has no endpoints; requests get 503 (no healthy upstream)",
				b.gateway.locality.String(), c.Service),
			"name a locality that has endpoints among the to entries")
	}
	clear(members[len(kept):])
	return kept
}

// reportDistributeOverrides warns that distribute silences failover and
// failoverPriority: Istio applies distribute and ignores the others (and
// its validation refuses distribute together with failover).
func (b *builder) reportDistributeOverrides(ls localitySetting) {
	if len(ls.failover) > 0 {
		b.report(&ls.dr.Meta, diag.Warning, CodeDistributeOverrides, ls.field+".failover",
			"distribute and failover cannot both be set (Istio's validation rejects it); distribute applies and failover is ignored",
			"keep one of them")
	}
	if len(ls.failoverPriority) > 0 {
		b.report(&ls.dr.Meta, diag.Warning, CodeDistributeOverrides, ls.field+".failoverPriority",
			"failoverPriority is ignored when distribute is set; distribute applies",
			"keep one of them")
	}
}
