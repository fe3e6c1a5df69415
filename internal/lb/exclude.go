package lb

// hostSelectionAttempts bounds how many times a picker draws again when
// the host it drew is excluded. Istio configures Envoy's previous_hosts
// retry predicate with host_selection_retry_max_attempts 5.
const hostSelectionAttempts = 5

// redrawer is a picker that can draw one host ignoring exclusions.
type redrawer interface {
	draw() *Host
}

// avoidExcluded replaces first, a host p drew that r excludes, by a host
// r does not exclude. It draws again up to hostSelectionAttempts in total,
// which keeps the policy's distribution, and then, unlike Envoy, which
// would accept the last draw, scans hosts from a random position, so an
// available host is always found when one exists. When every host is
// excluded the last draw is returned: a retry to a host already tried
// beats failing the request.
func avoidExcluded(p redrawer, r *Request, first *Host, hosts []*Host, rnd Rand) *Host {
	h := first
	for i := 1; i < hostSelectionAttempts; i++ {
		h = p.draw()
		if !r.Excluded(h) {
			return h
		}
	}
	start := rnd.IntN(len(hosts))
	for i := range hosts {
		c := hosts[(start+i)%len(hosts)]
		if !r.Excluded(c) {
			return c
		}
	}
	return h
}

// excludes reports whether r asks for any host to be avoided; it keeps the
// common, retry-free case to one branch.
func excludes(r *Request) bool {
	return r != nil && len(r.Exclude) > 0
}
