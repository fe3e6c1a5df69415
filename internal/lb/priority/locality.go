package priority

import "math"

// LocalityHealth is the input of LocalityWeights for one locality of a
// priority level.
type LocalityHealth struct {
	// Weight is the locality's load-balancing weight (EDS
	// LocalityLbEndpoints.load_balancing_weight). A locality of weight 0
	// receives no traffic.
	Weight uint32
	// Total is the number of hosts in the locality.
	Total int
	// Available is the number of hosts eligible for the traffic class being
	// placed: healthy hosts for healthy traffic, degraded hosts for
	// degraded traffic.
	Available int
}

// LocalityWeights returns each locality's effective weight (Envoy
// locality_weight.rst):
//
//	effective_weight = weight × min(1, overprov × available/total)
//
// A locality's share of its priority's traffic is its effective weight over
// the sum. The overprovisioning factor applies here as for priorities, so a
// locality keeps its full weight until fewer than 1/1.4 of its hosts are
// available. Like Envoy's code (HostSetImpl::effectiveLocalityWeight) the
// ratio is computed in floating point; the documentation's pseudo-code uses
// an integer percent, which is why its table shows 32% at 69% availability
// where the code gives 32.6%. overprovisioning ≤ 0 selects the default and
// is used as a whole percent, as for ComputeLoad.
func LocalityWeights(localities []LocalityHealth, overprovisioning float64) []float64 {
	ovp := float64(overprovisioningPercent(overprovisioning)) / 100
	out := make([]float64, len(localities))
	for i, l := range localities {
		out[i] = effectiveWeight(l, ovp)
	}
	return out
}

func effectiveWeight(l LocalityHealth, ovp float64) float64 {
	if l.Total <= 0 || l.Available <= 0 || l.Weight == 0 {
		return 0
	}
	ratio := float64(min(l.Available, l.Total)) / float64(l.Total)
	return float64(l.Weight) * math.Min(1, ovp*ratio)
}

// weightScale turns effective weights into integers for drawing: 10^6
// keeps six significant digits of the availability ratio while the sum of
// uint32 weights (Envoy caps a priority's total at 2^32-1) times the scale
// still fits in a uint64.
const weightScale = 1e6

func scaledWeight(w float64) uint64 {
	if w <= 0 {
		return 0
	}
	// A locality with any available host keeps a non-zero chance.
	return max(1, uint64(math.Round(w*weightScale)))
}
