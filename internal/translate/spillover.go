package translate

import (
	"fmt"
	"strconv"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// annotationSpillover turns on meshgate's load-based spillover for every
// cluster of the DestinationRule's host: a priority whose healthy
// endpoints each carry more than this many in-flight requests counts as
// saturated, and traffic moves on to the next priority. Istio has no such
// setting (its failover is health-based only), so it is an annotation,
// which Istio ignores.
const annotationSpillover = "meshgate.io/spillover-max-active-requests"

// spillover reads the annotation from the rules merged for a host, oldest
// first; the first valid value wins. An invalid value is an error on its
// rule and is ignored.
func (b *builder) spillover(rule *mergedRule) *snapshot.SpilloverPolicy {
	if rule == nil {
		return nil
	}
	var out *snapshot.SpilloverPolicy
	var from *resource.DestinationRule
	for _, dr := range rule.members {
		v, ok := dr.Annotations[annotationSpillover]
		if !ok {
			continue
		}
		field := resource.JoinKey("metadata.annotations", annotationSpillover)
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			b.report(&dr.Meta, diag.Error, CodeSpillover, field,
				fmt.Sprintf("%q is not a positive integer; spillover stays off for host %s", v, rule.host),
				`write the in-flight requests per endpoint above which traffic spills to the next priority, e.g. "100"`)
			continue
		}
		if out != nil {
			if uint32(n) != out.MaxActiveRequestsPerEndpoint {
				b.report(&dr.Meta, diag.Warning, CodeSpillover, field,
					fmt.Sprintf("DestinationRule %s, older, already sets spillover for host %s to %d; this value is ignored",
						nsName(&from.Meta), rule.host, out.MaxActiveRequestsPerEndpoint),
					"set the annotation on one DestinationRule per host")
			}
			continue
		}
		out, from = &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: uint32(n)}, dr
	}
	return out
}
