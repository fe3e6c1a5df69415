package upstream

import (
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/lb/priority"
)

// PickRetry chooses the host for a retry; tried lists the hosts of the
// earlier attempts. Without otherPriorities a retry is balanced like a
// first attempt, so while the closest priority is healthy it stays there
// (r.Exclude steers it off the hosts already tried). With otherPriorities
// (Istio's retryRemoteLocalities, Envoy's previous_priorities predicate)
// the priorities already tried are left out and the priority load is
// computed over the others, so the retry goes to the next priority with
// healthy hosts; once every priority has been tried, all are eligible
// again. This is the slow path: it builds a picker per retry.
func (c *Cluster) PickRetry(r *lb.Request, otherPriorities bool, tried []*lb.Host) *lb.Host {
	if !otherPriorities || c.plan == nil || len(c.plan.levels) < 2 {
		return c.Pick(r)
	}
	levels := c.plan.levels
	skip := make([]bool, len(levels))
	for _, h := range tried {
		if p, ok := c.plan.levelOf[h]; ok {
			skip[p] = true
		}
	}
	rest := make([]priority.Priority, 0, len(levels))
	for i, lvl := range levels {
		if !skip[i] {
			rest = append(rest, lvl)
		}
	}
	if len(rest) == 0 || len(rest) == len(levels) {
		return c.Pick(r)
	}
	if h := priority.New(rest, c.health, c.plan.opts).Pick(r); h != nil {
		return h
	}
	return c.Pick(r)
}
