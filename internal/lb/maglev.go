package lb

import (
	"cmp"
	"slices"

	"github.com/cespare/xxhash/v2"
)

const (
	// defaultMaglevTableSize is Envoy's default table_size.
	defaultMaglevTableSize = 65537
	// maxMaglevTableSize is the largest table_size Envoy accepts (a prime).
	maxMaglevTableSize = 5000011
)

// maglev is the Maglev consistent hash (Eisenbud et al., NSDI 2016): a
// lookup table of prime size M that hosts fill by taking turns, each
// claiming the next free slot of its own permutation of the table. Host
// i's permutation starts at offset_i and steps by skip_i, both derived
// from hashes of its address; M being prime makes every permutation visit
// every slot. Turns follow the weighted EDF order, so a host's share of
// slots follows its weight (with equal weights the turns are plain
// rotation, the paper's original algorithm). Pick is one table lookup.
//
// Compared with a ring, the table spreads keys more evenly and looks them
// up in O(1), but a membership change also moves a small number of keys
// between hosts that stayed.
//
// Exclude is ignored: a retry goes back to the host the key maps to, as
// Istio's consistent-hash routes omit the previous-hosts retry predicate.
type maglev struct {
	hosts []*Host
	rnd   Rand
	table []uint32
}

// maglevSize returns the table size to use for requested and n hosts:
// requested, 0 meaning the default, capped at the largest size Envoy
// accepts and raised to at least n so every host can own a slot. A size
// that is not prime is raised to the next prime rather than rejected.
func maglevSize(requested uint64, n int) uint64 {
	m := requested
	if m == 0 {
		m = defaultMaglevTableSize
	}
	m = min(m, maxMaglevTableSize)
	m = max(m, uint64(n))
	return nextPrime(m)
}

func newMaglev(hosts []*Host, rnd Rand, tableSize uint64) *maglev {
	m := maglevSize(tableSize, len(hosts))
	pos := make([]uint64, len(hosts))
	skip := make([]uint64, len(hosts))
	seeded := xxhash.NewWithSeed(1)
	for i, h := range hosts {
		seeded.ResetWithSeed(1)
		_, _ = seeded.WriteString(h.Address)
		pos[i] = xxhash.Sum64String(h.Address) % m
		skip[i] = seeded.Sum64()%(m-1) + 1
	}

	const free = ^uint32(0)
	table := make([]uint32, m)
	for i := range table {
		table[i] = free
	}
	// Take turns in address order, not input order, so every replica
	// builds the same table whatever order it got the hosts in.
	order := make([]int, len(hosts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(hosts[a].Address, hosts[b].Address) })
	ws := make([]uint64, len(hosts))
	for k, i := range order {
		ws[k] = weightOf(hosts[i])
	}
	turns := newEDF(ws)
	for range m {
		i := order[turns.next()]
		for table[pos[i]] != free {
			pos[i] = (pos[i] + skip[i]) % m
		}
		table[pos[i]] = uint32(i)
		pos[i] = (pos[i] + skip[i]) % m
	}
	return &maglev{hosts: hosts, rnd: rnd, table: table}
}

func (p *maglev) Pick(r *Request) *Host {
	var h uint64
	if r != nil && r.HasHash {
		h = r.Hash
	} else {
		// A random slot, so hash-less requests still follow the weights.
		h = p.rnd.Uint64()
	}
	return p.hosts[p.table[h%uint64(len(p.table))]]
}

// nextPrime returns the smallest prime >= n (n >= 2). Trial division is
// plenty: table sizes stay below 2^23.
func nextPrime(n uint64) uint64 {
	if n <= 2 {
		return 2
	}
	if n%2 == 0 {
		n++
	}
	for ; ; n += 2 {
		if isPrime(n) {
			return n
		}
	}
}

func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := uint64(3); d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}
