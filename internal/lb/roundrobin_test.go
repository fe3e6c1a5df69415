package lb

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// letters renders n picks as host letters: host 0 is "a", host 1 "b"...
func letters(p Picker, hosts []*Host, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('a' + indexOf(hosts, p.Pick(nil))))
	}
	return b.String()
}

// TestWeightedRoundRobinSequence pins the smooth order. With weights 3:1
// the schedule is "abaa": host a's three turns fall due at 1/6, 3/6 and
// 5/6 of the period and b's one at 3/6, and b, waiting longer, wins the
// tie.
func TestWeightedRoundRobinSequence(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
		want    string
	}{
		{"3:1", []uint32{3, 1}, "abaa"},
		{"6:2 reduces to 3:1", []uint32{6, 2}, "abaa"},
		{"2:1", []uint32{2, 1}, "aba"},
		{"1:3", []uint32{1, 3}, "babb"},
		{"5:1:1", []uint32{5, 1, 1}, "aabcaaa"},
		{"1:2:3", []uint32{1, 2, 3}, "cbacbc"},
		{"4:2:1", []uint32{4, 2, 1}, "abacaba"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts := weighted(tt.weights...)
			p := New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hosts, Options{Rand: zeroRand{}})
			// Three periods: the schedule repeats exactly.
			want := strings.Repeat(tt.want, 3)
			if got := letters(p, hosts, len(want)); got != want {
				t.Errorf("picks = %s, want %s", got, want)
			}
		})
	}
}

func TestWeightedRoundRobinProportions(t *testing.T) {
	ws := []uint32{7, 3, 11, 1}
	var sum uint32
	for _, w := range ws {
		sum += w
	}
	hosts := weighted(ws...)
	for name, p := range map[string]Picker{
		"schedule": New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hosts, Options{Rand: newSeqRand(3)}),
		"edf":      newRoundRobin(hosts, newSeqRand(3), 4),
	} {
		t.Run(name, func(t *testing.T) {
			counts := make([]uint32, len(hosts))
			for range 10 * sum {
				counts[indexOf(hosts, p.Pick(nil))]++
			}
			for i, w := range ws {
				if counts[i] != 10*w {
					t.Errorf("host %d (weight %d) picked %d times in 10 periods, want %d", i, w, counts[i], 10*w)
				}
			}
		})
	}
}

// TestEDFFallbackMatchesSchedule checks that the live scheduler used for
// large weight sums produces the same order as the precomputed one.
func TestEDFFallbackMatchesSchedule(t *testing.T) {
	hosts := weighted(5, 1, 1)
	sched := newRoundRobin(hosts, zeroRand{}, maxSchedule)
	live := newRoundRobin(hosts, zeroRand{}, 1)
	if _, ok := live.(*edfRoundRobin); !ok {
		t.Fatalf("cap 1 built %T, want *edfRoundRobin", live)
	}
	if a, b := letters(sched, hosts, 21), letters(live, hosts, 21); a != b {
		t.Errorf("live EDF = %s, schedule = %s", b, a)
	}
}

func TestRoundRobinRotation(t *testing.T) {
	hosts := equal(4)
	p := New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hosts, Options{Rand: newSeqRand(9)})
	first := indexOf(hosts, p.Pick(nil))
	counts := make([]int, len(hosts))
	counts[first]++
	for i := 1; i < 4000; i++ {
		got := indexOf(hosts, p.Pick(nil))
		if want := (first + i) % len(hosts); got != want {
			t.Fatalf("pick %d = host %d, want host %d (rotation)", i, got, want)
		}
		counts[got]++
	}
	for i, c := range counts {
		if c != 1000 {
			t.Errorf("host %d picked %d times, want 1000", i, c)
		}
	}
}

func TestRoundRobinRandomStart(t *testing.T) {
	for name, hosts := range map[string][]*Host{"equal": equal(10), "weighted": weighted(1, 2, 3, 4)} {
		t.Run(name, func(t *testing.T) {
			r := newSeqRand(11)
			starts := map[*Host]bool{}
			for range 50 {
				p := New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hosts, Options{Rand: r})
				starts[p.Pick(nil)] = true
			}
			if len(starts) < 3 {
				t.Errorf("50 pickers started on %d distinct hosts; want the start randomised", len(starts))
			}
		})
	}
}
