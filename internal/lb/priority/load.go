package priority

import "math"

// DefaultOverprovisioningFactor is Envoy's default overprovisioning factor
// (ClusterLoadAssignment.policy.overprovisioning_factor, 140 percent). A
// level or locality counts as fully available until fewer than 1/1.4
// (about 71.4%) of its hosts are available. Istio never sets the field.
const DefaultOverprovisioningFactor = 1.4

// DefaultPanicThreshold is Envoy's default healthy panic threshold, in
// percent (common_lb_config.healthy_panic_threshold). Istio overrides it
// with the DestinationRule's outlierDetection.minHealthPercent (default 0,
// which disables panic) whenever outlierDetection is present, and forces 0
// for services whose endpoints are sent regardless of health.
const DefaultPanicThreshold = 50

// Level is the host census of one priority level.
//
// The fields count hosts, as Envoy does by default: its optional
// weighted_priority_health mode, which sums host weights instead, is not
// the default and Istio does not enable it. ComputeLoad works in whatever
// unit it is given, but the panic test and total-panic split are defined
// on host counts in Envoy, so feed counts to reproduce it.
type Level struct {
	// Total is every host in the level, whatever its health.
	Total int
	// Healthy hosts receive traffic normally.
	Healthy int
	// Degraded hosts receive traffic only when the healthy hosts of all
	// levels cannot absorb it (Envoy: degraded.rst).
	Degraded int
}

// Load is the per-priority traffic split, in integer percent, as Envoy
// computes it. When any host exists, the sum over Healthy and Degraded is
// 100; it is 0 everywhere when there is nowhere to send traffic (no hosts,
// or nothing available with panic disabled: the caller answers 503 with
// response flag UH).
type Load struct {
	// Healthy[p] is the share of requests served by the healthy hosts of
	// priority p (by every host of p when Panic[p]).
	Healthy []int `json:"healthy"`
	// Degraded[p] is the share served by the degraded hosts of priority p.
	Degraded []int `json:"degraded"`
	// Panic[p] reports that priority p ignores health: requests routed to
	// it go to all of its hosts.
	Panic []bool `json:"panic"`
	// NormalizedTotalHealth is min(100, Σ health + Σ degraded score), what
	// Envoy calls normalized total availability.
	NormalizedTotalHealth int `json:"normalizedTotalHealth"`
}

func (l Load) clone() Load {
	return Load{
		Healthy:               append([]int(nil), l.Healthy...),
		Degraded:              append([]int(nil), l.Degraded...),
		Panic:                 append([]bool(nil), l.Panic...),
		NormalizedTotalHealth: l.NormalizedTotalHealth,
	}
}

// overprovisioningPercent turns the factor into Envoy's integer percent
// (1.4 → 140), which is the form Envoy computes with. Zero, negative and
// non-finite values select the default.
func overprovisioningPercent(f float64) int {
	if !(f > 0) || math.IsInf(f, 0) {
		return 140
	}
	// The cap only keeps the integer products below from overflowing.
	return int(math.Max(1, math.Min(math.Round(f*100), 1e6)))
}

// clampPercent limits a percentage to [0, 100], as Envoy does for the
// panic threshold (min(100, runtime value); the field is unsigned).
func clampPercent(v int) int { return max(0, min(100, v)) }

// sanitize makes a Level internally consistent: no negative counts and
// Healthy+Degraded ≤ Total (healthy hosts are counted first).
func sanitize(l Level) Level {
	l.Total = max(0, l.Total)
	l.Healthy = max(0, min(l.Healthy, l.Total))
	l.Degraded = max(0, min(l.Degraded, l.Total-l.Healthy))
	return l
}

// score is a level's health score: min(100, ovp × part / total) in integer
// arithmetic, ovp in percent. With ovp 140 and 71 of 100 hosts healthy this
// is 9940/100 = 99, not 99.4: Envoy truncates, and the tables of
// priority.rst rely on it.
func score(ovp, part, total int) int {
	if total <= 0 {
		return 0
	}
	return min(100, ovp*part/total)
}

// ComputeLoad computes the priority load for the given levels (index =
// priority, 0 first), reproducing Envoy's integer arithmetic:
//
//  1. health(P) = min(100, overprov×100×healthy(P)/total(P)) and likewise
//     a degraded score from degraded(P), both truncated (priority.rst,
//     degraded.rst).
//  2. NTH = min(100, Σ health + Σ degraded score) (priority.rst "normalized
//     total health"; Envoy's code names it normalized total availability).
//  3. Healthy loads first, in priority order: load(P) = min(remaining,
//     health(P)×100/NTH). Degraded loads then share what remains, in
//     priority order, with the same formula on degraded scores, so degraded
//     hosts only see traffic when healthy capacity across every priority
//     falls short (degraded.rst).
//  4. Whatever truncation leaves over goes to the first priority with any
//     healthy score, else to the first with a degraded score. Envoy's code
//     does this; the example tables of priority.rst and
//     panic_threshold.rst instead show the remainder spread evenly, so for
//     health {7, 91} the code (and this function) yields 8/92 where the
//     documentation prints 7/93.
//  5. Panic (panic_threshold.rst): ignored while NTH = 100. Otherwise a
//     priority is in panic when (healthy+degraded)/total, in exact percent,
//     is below the threshold; a priority without hosts counts as in panic.
//     A threshold of 0 disables panic.
//  6. Total panic: when every priority is in panic, the loads are
//     recomputed from host counts alone, 100×total(P)/Σtotal truncated,
//     the remainder going to the first priority with hosts; degraded loads
//     are then 0 (all hosts of the chosen priority are used anyway).
//  7. When nothing is available and panic is disabled, Envoy puts a
//     nominal 100 on P0 yet finds no host; here every load is 0 so the
//     caller sees directly that no host is eligible. With no hosts at all
//     the loads are likewise 0.
//
// overprovisioning ≤ 0 selects DefaultOverprovisioningFactor; it is used as
// a whole percent (1.4 → 140). panicThreshold is clamped to [0, 100].
func ComputeLoad(levels []Level, overprovisioning float64, panicThreshold int) Load {
	n := len(levels)
	ld := Load{Healthy: make([]int, n), Degraded: make([]int, n), Panic: make([]bool, n)}
	ovp := overprovisioningPercent(overprovisioning)
	threshold := clampPercent(panicThreshold)

	lv := make([]Level, n)
	health := make([]int, n)
	degraded := make([]int, n)
	hosts, sum := 0, 0
	for i, l := range levels {
		l = sanitize(l)
		lv[i] = l
		hosts += l.Total
		health[i] = score(ovp, l.Healthy, l.Total)
		degraded[i] = score(ovp, l.Degraded, l.Total)
		sum += health[i] + degraded[i]
	}
	nth := min(100, sum)
	ld.NormalizedTotalHealth = nth
	if hosts == 0 || (nth == 0 && threshold == 0) {
		return ld
	}

	if nth > 0 {
		firstHealthy, left := distribute(ld.Healthy, health, 100, nth)
		firstDegraded, left := distribute(ld.Degraded, degraded, left, nth)
		if left > 0 {
			if firstHealthy >= 0 {
				ld.Healthy[firstHealthy] += left
			} else {
				ld.Degraded[firstDegraded] += left
			}
		}
	}

	if nth == 100 || threshold == 0 {
		return ld
	}
	total := true
	for i, l := range lv {
		// Exact comparison of 100×available/total < threshold, which Envoy
		// evaluates in floating point.
		ld.Panic[i] = l.Total == 0 || 100*(l.Healthy+l.Degraded) < threshold*l.Total
		total = total && ld.Panic[i]
	}
	if total {
		totalPanic(ld, lv, hosts)
	}
	return ld
}

// distribute assigns up to budget percent to the levels in order, each
// taking min(what is left, avail×100/nth). It returns the first level with
// a non-zero score (-1 if none) and the unassigned budget.
func distribute(dst, avail []int, budget, nth int) (first, left int) {
	first = -1
	for i, a := range avail {
		if first < 0 && a > 0 {
			first = i
		}
		dst[i] = min(budget, a*100/nth)
		budget -= dst[i]
	}
	return first, budget
}

// totalPanic splits the load by host count regardless of health, the
// remainder of the truncation going to the first level with hosts.
func totalPanic(ld Load, lv []Level, hosts int) {
	left, first := 100, -1
	for i, l := range lv {
		if first < 0 && l.Total > 0 {
			first = i
		}
		ld.Healthy[i] = 100 * l.Total / hosts
		ld.Degraded[i] = 0
		left -= ld.Healthy[i]
	}
	ld.Healthy[first] += left
}
