package lb

import (
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func newLR(hosts []*Host) Picker {
	return New(snapshot.LBPolicy{Kind: snapshot.LBLeastRequest}, hosts, Options{Rand: newSeqRand(5)})
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	tests := []struct {
		name   string
		hosts  int
		busy   []int // indexes of hosts given in-flight requests
		active int
	}{
		// Two distinct choices out of two: the idle host always wins.
		{"2 hosts", 2, []int{0}, 1},
		// A busy host loses to any idle one it is paired with, and the
		// pair is distinct, so it is never picked.
		{"3 hosts", 3, []int{1}, 5},
		{"8 hosts", 8, []int{6}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts := equal(tt.hosts)
			busy := map[*Host]bool{}
			for _, i := range tt.busy {
				busy[hosts[i]] = true
				for range tt.active {
					hosts[i].Begin()
				}
			}
			p := newLR(hosts)
			for range 2000 {
				if h := p.Pick(nil); busy[h] {
					t.Fatalf("picked busy host %s (%d active)", h.Address, h.Active())
				}
			}
		})
	}
}

// TestLeastRequestBusySet: the one idle host of eight is picked whenever
// it is one of the two choices, 1-C(7,2)/C(8,2) = 1/4 of the time, twice
// its idle share.
func TestLeastRequestBusySet(t *testing.T) {
	hosts := equal(8)
	for _, h := range hosts[1:] {
		h.Begin()
	}
	if got := shares(newLR(hosts), hosts, nil, 100000)[0]; !within(got, 0.25, 0.01) {
		t.Errorf("idle host share = %.3f, want 0.25±0.01", got)
	}
}

func TestLeastRequestIdleIsUniform(t *testing.T) {
	hosts := equal(4)
	for i, s := range shares(newLR(hosts), hosts, nil, 100000) {
		if !within(s, 0.25, 0.03) {
			t.Errorf("host %d share = %.3f, want 0.25±0.03", i, s)
		}
	}
}

// TestWeightedLeastRequest checks the documented approximation of
// Envoy's weight/(active+1): idle hosts follow their weights, and a host
// with many requests in flight loses traffic.
func TestWeightedLeastRequest(t *testing.T) {
	t.Run("idle follows weights", func(t *testing.T) {
		hosts := weighted(2, 1)
		got := shares(newLR(hosts), hosts, nil, 100000)
		if !within(got[0], 2.0/3, 0.02) {
			t.Errorf("weight-2 host share = %.3f, want 0.667±0.02", got[0])
		}
	})
	t.Run("idle follows weights, 4 hosts", func(t *testing.T) {
		ws := []uint32{1, 2, 3, 4}
		hosts := weighted(ws...)
		got := shares(newLR(hosts), hosts, nil, 100000)
		for i, w := range ws {
			if want := float64(w) / 10; !within(got[i], want, 0.02) {
				t.Errorf("host %d share = %.3f, want %.3f±0.02", i, got[i], want)
			}
		}
	})
	t.Run("loaded in proportion keeps weights", func(t *testing.T) {
		hosts := weighted(2, 1)
		for range 20 {
			hosts[0].Begin()
		}
		for range 10 {
			hosts[1].Begin()
		}
		got := shares(newLR(hosts), hosts, nil, 100000)
		if !within(got[0], 2.0/3, 0.02) {
			t.Errorf("weight-2 host share = %.3f, want 0.667±0.02", got[0])
		}
	})
	t.Run("busy host loses traffic", func(t *testing.T) {
		hosts := weighted(2, 1)
		for range 50 {
			hosts[0].Begin()
		}
		got := shares(newLR(hosts), hosts, nil, 100000)
		// It wins only when both draws land on it: (2/3)^2.
		if !within(got[0], 4.0/9, 0.02) {
			t.Errorf("busy weight-2 host share = %.3f, want 0.444±0.02 (idle share 0.667)", got[0])
		}
	})
}

func TestLessLoaded(t *testing.T) {
	a, b := NewHost("a", 2), NewHost("b", 1)
	if lessLoaded(a, b) || lessLoaded(b, a) {
		t.Error("idle hosts should tie")
	}
	a.Begin()
	if !lessLoaded(b, a) {
		t.Error("idle b should be less loaded than a with one request")
	}
	b.Begin()
	if !lessLoaded(a, b) {
		t.Error("1 request on weight 2 should be less loaded than 1 on weight 1")
	}
	b.End()
	b.End() // unbalanced: negative counts read as zero
	if lessLoaded(b, NewHost("c", 1)) {
		t.Error("a negative count should read as idle")
	}
}
