package lb

// weightOf returns h's weight, reading 0 as 1 so a Host built without
// NewHost still receives traffic.
func weightOf(h *Host) uint64 {
	if h.Weight == 0 {
		return 1
	}
	return uint64(h.Weight)
}

// weightsOf returns the hosts' weights and whether they are all equal. The
// equal case matters because every policy has a cheaper, lock-free form
// for it.
func weightsOf(hosts []*Host) (ws []uint64, equal bool) {
	ws = make([]uint64, len(hosts))
	equal = true
	for i, h := range hosts {
		ws[i] = weightOf(h)
		if ws[i] != ws[0] {
			equal = false
		}
	}
	return ws, equal
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
