package lb

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

const (
	// defaultRingSize is Envoy's default minimum_ring_size.
	defaultRingSize = 1024
	// maxRingSize is Envoy's default (and largest) maximum_ring_size.
	maxRingSize = 8 << 20
)

// ringHash is a ketama-style consistent-hash ring. Each host owns a number
// of points proportional to its weight; point j of a host sits at
// xxHash64("address_j"); a request goes to the owner of the first point at
// or after its hash, wrapping past the end.
//
// Exclude is ignored: a retry goes back to the host the key maps to, as
// Istio's consistent-hash routes omit the previous-hosts retry predicate.
type ringHash struct {
	hosts []*Host
	rnd   Rand
	// points is sorted; owners[i] indexes the host owning points[i]. Two
	// slices instead of one of pairs keep the binary search dense.
	points []uint64
	owners []uint32
}

func newRingHash(hosts []*Host, rnd Rand, minSize uint64) *ringHash {
	if minSize == 0 {
		minSize = defaultRingSize
	}
	minSize = min(minSize, maxRingSize)
	ws, _ := weightsOf(hosts)
	counts := ringCounts(ws, minSize)

	type point struct {
		hash  uint64
		owner uint32
	}
	var total uint64
	for _, c := range counts {
		total += c
	}
	pts := make([]point, 0, total)
	var key []byte
	for i, h := range hosts {
		key = append(key[:0], h.Address...)
		key = append(key, '_')
		base := len(key)
		for j := range counts[i] {
			key = strconv.AppendUint(key[:base], j, 10)
			pts = append(pts, point{hash: xxhash.Sum64(key), owner: uint32(i)})
		}
	}
	// Order colliding points by address, not by position in hosts, so the
	// ring does not depend on the order the hosts came in.
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(hosts[a.owner].Address, hosts[b.owner].Address)
	})
	p := &ringHash{
		hosts:  hosts,
		rnd:    rnd,
		points: make([]uint64, len(pts)),
		owners: make([]uint32, len(pts)),
	}
	for i, pt := range pts {
		p.points[i], p.owners[i] = pt.hash, pt.owner
	}
	return p
}

// ringCounts returns how many points each host gets: ceil(w·2^e) for the
// smallest integer e (possibly negative) at which the ring holds at least
// minSize points and the lightest host at least one.
//
// Envoy scales by exactly minSize/(smallest normalized weight), so with
// equal weights going from 10 hosts to 9 raises every host from 103 to 114
// points and the new points take keys from hosts that did not change. A
// power-of-two scale stays put across such changes (both cases use 128
// points a host), so removing a host moves only the keys it held and
// adding one moves only keys it takes. The ring is at most twice minSize
// (or as large as the lightest host needs) in exchange.
//
// When that would exceed maxRingSize the ring is instead exactly
// maxRingSize points shared in proportion to weight; membership changes
// then also shift a few keys between remaining hosts, as in Envoy.
func ringCounts(ws []uint64, minSize uint64) []uint64 {
	var total uint64
	wmin := ws[0]
	for _, w := range ws {
		total += w
		wmin = min(wmin, w)
	}
	// atLeast reports whether w·2^e >= m, treating a product past 2^64
	// as larger than any m.
	atLeast := func(w uint64, e int, m uint64) bool {
		if e >= 0 {
			return e >= 64 || w > math.MaxUint64>>e || w<<e >= m
		}
		s := -e
		return s < 64 && m <= math.MaxUint64>>s && w >= m<<s
	}
	e := 0
	for !atLeast(total, e, minSize) {
		e++
	}
	for e > -63 && atLeast(total, e-1, minSize) && atLeast(wmin, e-1, 1) {
		e--
	}
	counts := make([]uint64, len(ws))
	var sum uint64
	for i, w := range ws {
		if e >= 0 {
			counts[i] = w << e
		} else {
			counts[i] = max((w+(1<<-e)-1)>>-e, 1)
		}
		sum += counts[i]
	}
	if sum <= maxRingSize {
		return counts
	}
	return fitRing(ws, total, counts)
}

// fitRing fills counts with exactly maxRingSize points shared in
// proportion to ws (sum total), each host keeping at least one.
func fitRing(ws []uint64, total uint64, counts []uint64) []uint64 {
	if len(ws) >= maxRingSize {
		for i := range counts {
			counts[i] = 1
		}
		return counts
	}
	// Cumulative rounding: host i gets floor(T·W_i/W) - floor(T·W_{i-1}/W)
	// for prefix sums W_i, so the counts add up to T exactly.
	var prefix, prev uint64
	var bumped uint64
	heaviest := 0
	for i, w := range ws {
		prefix += w
		hi, lo := bits.Mul64(maxRingSize, prefix)
		cum, _ := bits.Div64(hi, lo, total)
		counts[i] = cum - prev
		prev = cum
		if counts[i] == 0 {
			counts[i] = 1
			bumped++
		}
		if counts[i] > counts[heaviest] {
			heaviest = i
		}
	}
	// Hosts too light for a point still get one; take those from the
	// heaviest host, which holds at least maxRingSize/n of them.
	counts[heaviest] -= bumped
	return counts
}

func (p *ringHash) Pick(r *Request) *Host {
	var h uint64
	if r != nil && r.HasHash {
		h = r.Hash
	} else {
		// A random point, so hash-less requests still follow the weights.
		h = p.rnd.Uint64()
	}
	i, _ := slices.BinarySearch(p.points, h)
	if i == len(p.points) {
		i = 0
	}
	return p.hosts[p.owners[i]]
}
