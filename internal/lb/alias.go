package lb

import "math/bits"

// aliasTable samples an index with probability proportional to its weight
// in O(1) (Walker's alias method, built with Vose's algorithm in integer
// arithmetic so the table is exact and deterministic).
type aliasTable struct {
	cols []aliasCol
}

// aliasCol is one column: the column's own index wins when the sample's
// fractional part is below keep (a fraction of 2^64); otherwise alias wins.
type aliasCol struct {
	keep  uint64
	alias int
}

func newAliasTable(weights []uint64) aliasTable {
	n := uint64(len(weights))
	ws := append([]uint64(nil), weights...)
	// Work in units where each column holds total: scaled weights are
	// w·n. Shrink the weights in the (unrealistic) case that does not fit
	// in 64 bits; that costs precision only for tiny weights.
	for {
		total, ok := sumFits(ws, n)
		if ok {
			return buildAlias(ws, total)
		}
		for i := range ws {
			ws[i] = max(ws[i]>>1, 1)
		}
	}
}

// sumFits returns sum(ws) and whether sum(ws)·n fits in a uint64.
func sumFits(ws []uint64, n uint64) (uint64, bool) {
	var total uint64
	for _, w := range ws {
		var carry uint64
		total, carry = bits.Add64(total, w, 0)
		if carry != 0 {
			return 0, false
		}
	}
	hi, _ := bits.Mul64(total, n)
	return total, hi == 0
}

func buildAlias(ws []uint64, total uint64) aliasTable {
	n := uint64(len(ws))
	cols := make([]aliasCol, n)
	scaled := make([]uint64, n)
	var small, large []int
	for i, w := range ws {
		scaled[i] = w * n
		if scaled[i] < total {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		// scaled[s] < total, so the quotient scaled[s]·2^64/total fits.
		keep, _ := bits.Div64(scaled[s], 0, total)
		cols[s] = aliasCol{keep: keep, alias: g}
		scaled[g] -= total - scaled[s]
		if scaled[g] < total {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// Integer arithmetic leaves exactly total in every remaining column.
	for _, i := range append(small, large...) {
		cols[i] = aliasCol{keep: ^uint64(0), alias: i}
	}
	return aliasTable{cols: cols}
}

// sample maps a uniform 64-bit value to an index. The high word of u·n
// picks the column and the low word is the fraction within it, so one
// random value serves both draws.
func (t *aliasTable) sample(u uint64) int {
	col, frac := bits.Mul64(u, uint64(len(t.cols)))
	c := &t.cols[col]
	if frac < c.keep {
		return int(col)
	}
	return c.alias
}
