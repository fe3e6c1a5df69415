package lb

import "math/bits"

// edf is an earliest-deadline-first scheduler over weighted items, the
// ordering Envoy uses for weighted round robin. Item i's k-th turn (k from
// 0) falls due at (2k+1)/(2·w_i), the middle of its k-th slot of length
// 1/w_i, rather than at the slot's end as in Envoy; centring the deadlines
// spreads a heavy item's turns around the light ones instead of bunching
// them at the start (weights 5:1:1 give a a b c a a a, not a a a a b c a).
// Equal deadlines go to the item that has waited longest, so equal
// weights give plain rotation in index order.
//
// In any run of sum(w) turns from the start, item i gets exactly w_i.
type edf struct {
	heap []edfEntry
	seq  uint64
}

type edfEntry struct {
	item int
	w    uint64
	// k is the number of turns the item has had.
	k uint64
	// seq orders equal deadlines: the entry queued first goes first.
	seq uint64
}

func newEDF(weights []uint64) *edf {
	e := &edf{heap: make([]edfEntry, len(weights)), seq: uint64(len(weights))}
	for i, w := range weights {
		e.heap[i] = edfEntry{item: i, w: w, seq: uint64(i)}
	}
	for i := len(e.heap)/2 - 1; i >= 0; i-- {
		e.down(i)
	}
	return e
}

// next returns the item whose turn it is and schedules its following turn.
func (e *edf) next() int {
	top := &e.heap[0]
	item := top.item
	top.k++
	top.seq = e.seq
	e.seq++
	e.down(0)
	return item
}

// before reports whether a's deadline precedes b's. It compares
// (2a.k+1)/(2a.w) with (2b.k+1)/(2b.w) by cross-multiplying in 128 bits,
// so the order is exact for any weights and turn counts.
func before(a, b *edfEntry) bool {
	ah, al := bits.Mul64(2*a.k+1, b.w)
	bh, bl := bits.Mul64(2*b.k+1, a.w)
	if ah != bh {
		return ah < bh
	}
	if al != bl {
		return al < bl
	}
	return a.seq < b.seq
}

func (e *edf) down(i int) {
	h := e.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && before(&h[r], &h[l]) {
			m = r
		}
		if !before(&h[m], &h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
