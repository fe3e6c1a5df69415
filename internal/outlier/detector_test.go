package outlier

import (
	"fmt"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 + d: tests pass explicit instants instead of a clock.
func at(d time.Duration) time.Time { return t0.Add(d) }

func mkHosts(n int) []*lb.Host {
	hs := make([]*lb.Host, n)
	for i := range hs {
		hs[i] = lb.NewHost(fmt.Sprintf("10.0.0.%d:80", i), 1)
	}
	return hs
}

// outcome is one reported attempt.
type outcome struct {
	status int
	local  bool
}

var (
	ok200   = outcome{200, false}
	nf404   = outcome{404, false}
	e500    = outcome{500, false}
	e501    = outcome{501, false}
	e502    = outcome{502, false}
	e503    = outcome{503, false}
	e504    = outcome{504, false}
	lof     = outcome{0, true}  // connect failure, timeout, reset
	connect = outcome{0, false} // connection established, no response
)

func repeat(o outcome, n int) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func seq(parts ...[]outcome) []outcome {
	var out []outcome
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(o outcome) []outcome { return []outcome{o} }

func TestConsecutiveDetectors(t *testing.T) {
	def := DefaultPolicy()
	with := func(f func(*Policy)) Policy {
		p := DefaultPolicy()
		f(&p)
		return p
	}
	gatewayOnly := with(func(p *Policy) { p.Consecutive5xx = 0; p.ConsecutiveGateway = 3 })
	split := with(func(p *Policy) { p.SplitExternalLocalOrigin = true; p.ConsecutiveLocalOrigin = 3 })
	tests := []struct {
		name     string
		policy   Policy
		reports  []outcome
		ejectAt  int // index of the report that ejects, -1 for none
		wantKind kind
	}{
		{"5 x 500 ejects on the 5th", def, repeat(e500, 5), 4, kind5xx},
		{"4 x 500 then a success resets", def, seq(repeat(e500, 4), one(ok200), repeat(e500, 4)), -1, 0},
		{"run restarts after a success", def, seq(repeat(e500, 4), one(ok200), repeat(e500, 5)), 9, kind5xx},
		{"4xx is a success", def, seq(repeat(e500, 4), one(nf404), one(e500)), -1, 0},
		{"gateway errors count toward 5xx", def, repeat(e503, 5), 4, kind5xx},
		{"any mix of 5xx", def, []outcome{e500, e502, e503, e504, e501}, 4, kind5xx},
		{"local origin counts toward 5xx without split", def, repeat(lof, 5), 4, kind5xx},
		{"connect success is neutral without split", def, seq(repeat(e500, 4), one(connect), one(e500)), 5, kind5xx},
		{"5xx detector disabled", with(func(p *Policy) { p.Consecutive5xx = 0 }), repeat(e500, 50), -1, 0},
		{"gateway detector off by default", with(func(p *Policy) { p.Consecutive5xx = 0 }), repeat(e503, 50), -1, 0},
		{"gateway detector counts 502-504", gatewayOnly, []outcome{e503, e504, e502}, 2, kindGateway},
		{"gateway detector ignores 500", gatewayOnly, repeat(e500, 50), -1, 0},
		{"other 5xx breaks a gateway run", gatewayOnly, []outcome{e503, e503, e500, e503, e503, e503}, 5, kindGateway},
		{"gateway below the 5xx threshold fires first",
			with(func(p *Policy) { p.ConsecutiveGateway = 2 }), []outcome{e502, e502}, 1, kindGateway},
		{"local origin counts as gateway error without split", gatewayOnly, repeat(lof, 3), 2, kindGateway},
		{"split: local origin failures eject", split, repeat(lof, 3), 2, kindLocalOrigin},
		{"split: local origin does not count toward 5xx",
			with(func(p *Policy) { p.SplitExternalLocalOrigin = true; p.Consecutive5xx = 2; p.ConsecutiveLocalOrigin = 0 }),
			repeat(lof, 50), -1, 0},
		{"split: connect success resets local origin", split, seq(repeat(lof, 2), one(connect), repeat(lof, 2)), -1, 0},
		{"split: a response resets local origin", split, seq(repeat(lof, 2), one(e500), repeat(lof, 2)), -1, 0},
		{"split: 5xx still ejects", split, repeat(e500, 5), 4, kind5xx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := mkHosts(1)
			tc.policy.MaxEjectionPercent = 100
			d := New(tc.policy, hs, t0)
			got := -1
			for i, o := range tc.reports {
				if d.Report(hs[0], o.status, o.local, at(time.Duration(i)*time.Millisecond)) {
					if got >= 0 {
						t.Fatalf("report %d ejected again (first at %d)", i, got)
					}
					got = i
				}
			}
			if got != tc.ejectAt {
				t.Fatalf("ejected at report %d, want %d", got, tc.ejectAt)
			}
			if d.Ejected(hs[0]) != (tc.ejectAt >= 0) {
				t.Errorf("Ejected = %v", d.Ejected(hs[0]))
			}
			st := d.Stats()
			if tc.ejectAt >= 0 && (st.EjectionsTotal != 1 || d.ejectionsByKind[tc.wantKind].Load() != 1) {
				t.Errorf("stats %+v, want one ejection by detector %d", st, tc.wantKind)
			}
		})
	}
}

func TestCountersInStatus(t *testing.T) {
	hs := mkHosts(1)
	p := DefaultPolicy()
	p.SplitExternalLocalOrigin = true
	d := New(p, hs, t0)
	for _, o := range []outcome{lof, lof, e503, e503, e500} {
		d.Report(hs[0], o.status, o.local, t0)
	}
	st := d.Status(hs[0], t0)
	// The 503s reset the local-origin run (the connection worked), the
	// 500 broke the gateway run, all three 5xx count toward 5xx.
	if st.Consecutive5xx != 3 || st.ConsecutiveGateway != 0 || st.ConsecutiveLocalOrigin != 0 || st.Ejected {
		t.Errorf("status %+v", st)
	}
	d.Report(hs[0], 0, true, t0)
	if st := d.Status(hs[0], t0); st.ConsecutiveLocalOrigin != 1 || st.Consecutive5xx != 3 {
		t.Errorf("after a local-origin failure: %+v", st)
	}
}

// ejectNow drives h over the 5xx threshold at now and reports whether it
// was ejected.
func ejectNow(d *Detector, h *lb.Host, now time.Time) bool {
	ejected := false
	for range d.Policy().Consecutive5xx {
		ejected = d.Report(h, 500, false, now) || ejected
	}
	return ejected
}

func TestEjectionTime(t *testing.T) {
	hs := mkHosts(1)
	p := DefaultPolicy() // base 30s, max 300s, interval 10s
	p.MaxEjectionPercent = 100
	d := New(p, hs, t0)
	h := hs[0]

	if !ejectNow(d, h, at(0)) {
		t.Fatal("not ejected")
	}
	if st := d.Status(h, at(5*time.Second)); !st.Ejected || !st.EjectedUntil.Equal(at(30*time.Second)) ||
		st.Ejections != 1 || st.Multiplier != 1 {
		t.Fatalf("status after first ejection %+v", st)
	}
	for _, s := range []time.Duration{10 * time.Second, 20 * time.Second, 30*time.Second - time.Millisecond} {
		if d.Sweep(at(s)) || !d.Ejected(h) {
			t.Fatalf("returned at %v, before the 30s ejection time", s)
		}
	}
	if !d.Sweep(at(30*time.Second)) || d.Ejected(h) {
		t.Fatal("not returned at the first sweep after 30s")
	}
	if st := d.Status(h, at(30*time.Second)); st.Ejected || !st.EjectedUntil.IsZero() || st.Consecutive5xx != 0 {
		t.Fatalf("status after return %+v", st)
	}

	// Ejected again at once: 2 × 30s.
	if !ejectNow(d, h, at(30*time.Second)) {
		t.Fatal("not ejected the second time")
	}
	if d.Sweep(at(89 * time.Second)) {
		t.Fatal("returned before 60s")
	}
	if !d.Sweep(at(90 * time.Second)) {
		t.Fatal("not returned after 60s")
	}

	// Keep failing at each return: 90s, 120s, … up to the 300s cap, where
	// it stays.
	now := 90 * time.Second
	for i, want := range []time.Duration{90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300} {
		want *= time.Second
		if !ejectNow(d, h, at(now)) {
			t.Fatalf("ejection %d failed", i+3)
		}
		if got := d.Status(h, at(now)).EjectedUntil.Sub(at(now)); got != want {
			t.Fatalf("ejection %d lasts %v, want %v", i+3, got, want)
		}
		if d.Sweep(at(now+want-time.Nanosecond)) || !d.Sweep(at(now+want)) {
			t.Fatalf("ejection %d: return not exactly at %v", i+3, want)
		}
		now += want
	}
}

func TestMultiplierDecay(t *testing.T) {
	// Envoy's EjectTimeBackoff scenario with a 10s base: 10s, 20s, 30s,
	// then two healthy intervals bring the next ejection down to 20s, and
	// a long healthy period back to 10s.
	hs := mkHosts(1)
	p := DefaultPolicy()
	p.BaseEjectionTime = 10 * time.Second
	p.MaxEjectionPercent = 100
	d := New(p, hs, t0)
	h := hs[0]
	now := time.Duration(0)
	ejectFor := func(want time.Duration) {
		t.Helper()
		if !ejectNow(d, h, at(now)) {
			t.Fatalf("at %v: not ejected", now)
		}
		// Sweep every 10s, as the caller's ticker would, until it returns.
		start := now
		for d.Ejected(h) {
			now += 10 * time.Second
			d.Sweep(at(now))
		}
		if got := now - start; got != want {
			t.Fatalf("ejection lasted %v, want %v", got, want)
		}
	}
	ejectFor(10 * time.Second)
	ejectFor(20 * time.Second)
	ejectFor(30 * time.Second)
	if m := d.Status(h, at(now)).Multiplier; m != 3 {
		t.Fatalf("multiplier %d, want 3", m)
	}
	for range 2 {
		now += 10 * time.Second
		d.Sweep(at(now))
	}
	if m := d.Status(h, at(now)).Multiplier; m != 1 {
		t.Fatalf("multiplier after two healthy intervals %d, want 1", m)
	}
	ejectFor(20 * time.Second)
	for range 10 {
		now += 10 * time.Second
		d.Sweep(at(now))
	}
	if m := d.Status(h, at(now)).Multiplier; m != 0 {
		t.Fatalf("multiplier after a long healthy period %d, want 0", m)
	}
	ejectFor(10 * time.Second)
}

func TestMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		name              string
		percent           int
		always            bool
		hosts, failing    int
		ejected, overflow int
	}{
		{"10% of 5 hosts ejects nothing", 10, false, 5, 1, 0, 1},
		{"10% of 9 hosts ejects nothing", 10, false, 9, 1, 0, 1},
		{"10% of 10 hosts ejects one", 10, false, 10, 2, 1, 1},
		{"20% of 10 hosts, 3 failing", 20, false, 10, 3, 2, 1},
		{"always eject one host", 10, true, 5, 2, 1, 1},
		{"always eject one does not raise the cap", 10, true, 30, 5, 3, 2},
		{"0 means Istio's default 10%", 0, false, 10, 2, 1, 1},
		{"100% ejects all", 100, false, 3, 3, 3, 0},
		{"above 100 is 100", 250, false, 3, 3, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := mkHosts(tc.hosts)
			p := DefaultPolicy()
			p.MaxEjectionPercent = tc.percent
			p.AlwaysEjectOneHost = tc.always
			d := New(p, hs, t0)
			ejected := 0
			for _, h := range hs[:tc.failing] {
				if ejectNow(d, h, t0) {
					ejected++
				}
			}
			st := d.Stats()
			if ejected != tc.ejected || st.EjectionsActive != tc.ejected || st.EjectionsOverflow != uint64(tc.overflow) {
				t.Errorf("ejected %d, stats %+v; want %d ejected, %d overflow", ejected, st, tc.ejected, tc.overflow)
			}
		})
	}
}

func TestOverflowRestartsTheRun(t *testing.T) {
	hs := mkHosts(10)
	p := DefaultPolicy()
	p.MaxEjectionPercent = 20
	d := New(p, hs, t0)
	for _, h := range hs[:3] {
		ejectNow(d, h, t0)
	}
	if d.Ejected(hs[2]) || d.Status(hs[2], t0).Consecutive5xx != 0 {
		t.Fatalf("third host: %+v, want refused with its run restarted", d.Status(hs[2], t0))
	}
	// Further failures do not eject while the cap is full…
	if ejectNow(d, hs[2], t0) {
		t.Fatal("ejected beyond the cap")
	}
	// …and once a slot frees up, a new full run is needed.
	if !d.Sweep(at(30 * time.Second)) {
		t.Fatal("nothing returned at 30s")
	}
	for i := range 4 {
		if d.Report(hs[2], 500, false, at(30*time.Second)) {
			t.Fatalf("ejected after %d failures", i+1)
		}
	}
	if !d.Report(hs[2], 500, false, at(30*time.Second)) {
		t.Fatal("not ejected after a full run")
	}
}

func TestRebuild(t *testing.T) {
	hs := mkHosts(5) // a b c d e
	a, b, c, dNew, e := hs[0], hs[1], hs[2], hs[3], hs[4]
	p := DefaultPolicy()
	p.MaxEjectionPercent = 50
	d := New(p, []*lb.Host{a, b, c, e}, t0)
	ejectNow(d, a, at(time.Second))
	ejectNow(d, c, at(time.Second))
	for range 3 {
		d.Report(b, 500, false, at(time.Second))
	}
	if st := d.Stats(); st.EjectionsActive != 2 {
		t.Fatalf("before rebuild: %+v", st)
	}
	// b cannot be ejected now: 3 of 4 would exceed 50%.
	statusA := d.Status(a, at(2*time.Second))

	nd := d.Rebuild(p, []*lb.Host{a, b, dNew, e}, at(2*time.Second))
	if !nd.Ejected(a) || nd.Ejected(b) || nd.Ejected(dNew) || nd.Ejected(c) {
		t.Fatalf("after rebuild: a %v b %v d %v c %v", nd.Ejected(a), nd.Ejected(b), nd.Ejected(dNew), nd.Ejected(c))
	}
	if got := nd.Status(a, at(2*time.Second)); got != statusA {
		t.Errorf("a's status changed across rebuild: %+v, was %+v", got, statusA)
	}
	if st := nd.Stats(); st.EjectionsActive != 1 || st.EjectionsTotal != 2 || st.Hosts != 4 {
		t.Errorf("stats after rebuild %+v", st)
	}
	// b's run of 3 survived: two more 5xx eject it, and c's slot is free.
	nd.Report(b, 500, false, at(3*time.Second))
	if !nd.Report(b, 500, false, at(3*time.Second)) {
		t.Error("b's consecutive count was not carried over")
	}
	// The ejection end of a is unchanged: it returns at 31s.
	if nd.Sweep(at(30 * time.Second)) {
		t.Error("returned early")
	}
	if !nd.Sweep(at(31*time.Second)) || nd.Ejected(a) {
		t.Error("a not returned at its original end")
	}
	if st := nd.Stats(); st.EjectionsActive != 1 {
		t.Errorf("active after a's return: %+v", st)
	}

	var none *Detector
	if fresh := none.Rebuild(p, hs, t0); fresh == nil || fresh.Stats().Hosts != 5 {
		t.Error("nil Rebuild did not build a detector")
	}
}

func TestUnknownAndDuplicateHosts(t *testing.T) {
	hs := mkHosts(2)
	stranger := lb.NewHost("10.9.9.9:80", 1)
	d := New(DefaultPolicy(), []*lb.Host{hs[0], nil, hs[0], hs[1]}, t0)
	if st := d.Stats(); st.Hosts != 2 {
		t.Errorf("hosts %d, want 2", st.Hosts)
	}
	for range 10 {
		if d.Report(stranger, 500, false, t0) {
			t.Fatal("ejected an unknown host")
		}
	}
	if d.Ejected(stranger) || d.Status(stranger, t0) != (HostStatus{}) {
		t.Error("unknown host has state")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		local  bool
		want   Result
	}{
		{200, false, Success},
		{204, false, Success},
		{404, false, Success},
		{499, false, Success},
		{500, false, HTTP5xx},
		{501, false, HTTP5xx},
		{505, false, HTTP5xx},
		{599, false, HTTP5xx},
		{502, false, Gateway},
		{503, false, Gateway},
		{504, false, Gateway},
		{0, false, LocalOriginSuccess},
		{0, true, LocalOriginFailure},
		{503, true, LocalOriginFailure},
		{600, false, Success},
	}
	for _, tc := range tests {
		if got := Classify(tc.status, tc.local); got != tc.want {
			t.Errorf("Classify(%d, %v) = %v, want %v", tc.status, tc.local, got, tc.want)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	want := Policy{
		Consecutive5xx: 5, ConsecutiveGateway: 0, ConsecutiveLocalOrigin: 5,
		Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionTime: 300 * time.Second,
		MaxEjectionPercent: 10,
	}
	if got := DefaultPolicy(); got != want {
		t.Errorf("DefaultPolicy() = %+v, want %+v", got, want)
	}
	if got := (Policy{}).normalized(); got.Interval != 10*time.Second || got.BaseEjectionTime != 30*time.Second ||
		got.MaxEjectionTime != 300*time.Second || got.MaxEjectionPercent != 10 || got.Consecutive5xx != 0 {
		t.Errorf("zero Policy normalized to %+v", got)
	}
	// A base above the maximum raises the maximum (Envoy's default for
	// max_ejection_time is max(300s, base)).
	p := Policy{BaseEjectionTime: 10 * time.Minute}.normalized()
	if p.MaxEjectionTime != 10*time.Minute || p.ejectionTime(3) != 10*time.Minute {
		t.Errorf("base 10m: max %v, 3rd ejection %v", p.MaxEjectionTime, p.ejectionTime(3))
	}
}
