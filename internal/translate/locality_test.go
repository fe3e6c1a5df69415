package translate

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

func loc(s string) snapshot.Locality { return parseLocality(s) }

// at is a workload's position: its locality plus topology labels
// synthesised as Istio does, and any extra labels.
func at(locality, network string, extra map[string]string) position {
	l := loc(locality)
	return position{locality: l, labels: topologyLabels(extra, l, "cluster-a", "", network)}
}

func failover(pairs ...string) []*networkingv1.LocalityLoadBalancerSetting_Failover {
	var out []*networkingv1.LocalityLoadBalancerSetting_Failover
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &networkingv1.LocalityLoadBalancerSetting_Failover{From: pairs[i], To: pairs[i+1]})
	}
	return out
}

// TestFailoverPriorityRank checks Istio's label ranking: with N entries
// the first mismatch at index j ranks N-j, all matching ranks 0, and a
// network mismatch in first place adds N instead of stopping the walk.
func TestFailoverPriorityRank(t *testing.T) {
	zonal := []string{labelNetwork, labelRegion, labelZone}
	gw := at("r1/z1", "net-a", map[string]string{"rack": "r1", "version": "v1"})
	tests := []struct {
		name   string
		labels []string
		ep     position
		want   int
	}{
		{"all match", zonal, at("r1/z1", "net-a", nil), 0},
		{"zone differs", zonal, at("r1/z2", "net-a", nil), 1},
		{"region differs", zonal, at("r2/z1", "net-a", nil), 2},
		// Network special case: remote endpoints rank N + their rank over
		// the remaining labels, so they follow every local endpoint and
		// keep their own order.
		{"remote network, same zone", zonal, at("r1/z1", "net-b", nil), 3},
		{"remote network, other zone", zonal, at("r1/z2", "net-b", nil), 4},
		{"remote network, other region", zonal, at("r2/z9", "net-b", nil), 5},
		{"no network on either side matches", zonal[1:], at("r1/z1", "", nil), 0},
		// The special case needs the network label first; elsewhere a
		// network mismatch is an ordinary one.
		{"network second is ordinary", []string{labelRegion, labelNetwork}, at("r1/z1", "net-b", nil), 1},
		{"custom label", []string{"rack", labelRegion}, at("r2/z1", "", map[string]string{"rack": "r1"}), 1},
		{"custom label missing on endpoint", []string{"rack", labelRegion}, at("r1/z1", "", nil), 2},
		// key=value compares with the literal, not with the gateway.
		{"literal matches", []string{"version=v2", "rack"}, at("", "", map[string]string{"version": "v2", "rack": "r1"}), 0},
		{"literal matches, key differs", []string{"version=v2", "rack"}, at("", "", map[string]string{"version": "v2", "rack": "r9"}), 1},
		{"gateway's own value is not the literal", []string{"version=v2", "rack"}, at("", "", map[string]string{"version": "v1", "rack": "r1"}), 2},
		{"literal network value", []string{"topology.istio.io/network=net-b", labelRegion}, at("r1/z1", "net-b", nil), 0},
		{"literal network mismatch keeps walking", []string{"topology.istio.io/network=net-b", labelRegion}, at("r2/z1", "net-a", nil), 3},
		// As in Istio, only "k=v" is a literal; "k=v=w" compares key k.
		{"two equals signs compare the key", []string{"rack=r9=x"}, at("", "", map[string]string{"rack": "r1"}), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failoverPriorityRank(gw.labels, tt.ep.labels, tt.labels); got != tt.want {
				t.Errorf("failoverPriorityRank(%v) = %d, want %d", tt.labels, got, tt.want)
			}
		})
	}
}

// TestLocalityRank checks Istio's default locality failover ranks and the
// failover from/to override.
func TestLocalityRank(t *testing.T) {
	gw := loc("r1/z1/s1")
	tests := []struct {
		name     string
		ep       string
		failover []*networkingv1.LocalityLoadBalancerSetting_Failover
		want     int
	}{
		{"same subzone", "r1/z1/s1", nil, 0},
		{"other subzone", "r1/z1/s2", nil, 1},
		{"other zone", "r1/z2", nil, 2},
		{"other region", "r2/z1", nil, 3},
		{"no locality", "", nil, 3},
		{"failover target", "r3/z1", failover("r1", "r3"), 3},
		{"not the failover target", "r2/z1", failover("r1", "r3"), 4},
		{"no locality is not the target", "", failover("r1", "r3"), 4},
		{"entry for another region", "r2/z1", failover("r9", "r3"), 3},
		{"first entry for the region decides", "r3/z1", failover("r1", "r2", "r1", "r3"), 4},
		{"same region ignores failover", "r1/z2", failover("r1", "r3"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localityRank(gw, loc(tt.ep), tt.failover); got != tt.want {
				t.Errorf("localityRank(%q) = %d, want %d", tt.ep, got, tt.want)
			}
		})
	}
	// Empty parts compare equal: a gateway without a locality puts
	// endpoints without one first.
	if got := localityRank(snapshot.Locality{}, snapshot.Locality{}, nil); got != 0 {
		t.Errorf("empty vs empty = %d, want 0", got)
	}
}

// TestAssignPriorities checks whole clusters: ranks, the label*5+locality
// combination, and compaction to 0..K without gaps.
func TestAssignPriorities(t *testing.T) {
	gw := at("r1/z1", "net-a", map[string]string{"rack": "r1"})
	tests := []struct {
		name             string
		failoverPriority []string
		failover         []*networkingv1.LocalityLoadBalancerSetting_Failover
		eps              []position
		want             []uint32
	}{
		{
			name: "default failover compacts 0,2,3 to 0,1,2",
			eps:  []position{at("r1/z1", "", nil), at("r1/z2", "", nil), at("r2/z3", "", nil), at("r1/z1", "", nil)},
			want: []uint32{0, 1, 2, 0},
		},
		{
			name: "only remote endpoints start at 0",
			eps:  []position{at("r2/z1", "", nil), at("r3/z1", "", nil)},
			want: []uint32{0, 0},
		},
		{
			name:     "failover to region3 before region2",
			failover: failover("r1", "r3"),
			eps:      []position{at("r2/z1", "", nil), at("r3/z1", "", nil), at("r1/z1", "", nil)},
			want:     []uint32{2, 1, 0},
		},
		{
			name:             "network special case orders remote networks by region",
			failoverPriority: []string{labelNetwork, labelRegion},
			eps: []position{
				at("r2/z1", "net-b", nil), at("r1/z1", "net-b", nil),
				at("r2/z1", "net-a", nil), at("r1/z1", "net-a", nil),
			},
			// Raw ranks 3, 2, 1, 0.
			want: []uint32{3, 2, 1, 0},
		},
		{
			name:             "label rank times 5 plus locality rank",
			failoverPriority: []string{"rack"},
			failover:         failover("r1", "r3"),
			eps: []position{
				at("r1/z1", "", map[string]string{"rack": "r2"}), // 1*5+0 = 5
				at("r2/z1", "", map[string]string{"rack": "r1"}), // 0*5+4 = 4
				at("r3/z1", "", map[string]string{"rack": "r1"}), // 0*5+3 = 3
				at("r1/z2", "", map[string]string{"rack": "r1"}), // 0*5+2 = 2
				at("r1/z1", "", map[string]string{"rack": "r1"}), // 0
			},
			want: []uint32{4, 3, 2, 1, 0},
		},
		{
			// failoverPriority alone ignores locality entirely.
			name:             "labels without failover ignore locality",
			failoverPriority: []string{"rack"},
			eps: []position{
				at("r2/z1", "", map[string]string{"rack": "r1"}),
				at("r1/z1", "", map[string]string{"rack": "r2"}),
			},
			want: []uint32{0, 1},
		},
		{
			name: "no endpoints",
			want: []uint32{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assignPriorities(gw, tt.eps, tt.failoverPriority, tt.failover)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("priorities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompactPriorities(t *testing.T) {
	tests := []struct {
		in   []int
		want []uint32
	}{
		{[]int{}, []uint32{}},
		{[]int{0, 0}, []uint32{0, 0}},
		{[]int{3, 3, 3}, []uint32{0, 0, 0}},
		{[]int{10, 0, 4, 4, 7}, []uint32{3, 0, 1, 1, 2}},
	}
	for _, tt := range tests {
		if got := compactPriorities(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("compactPriorities(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLocalityMatch(t *testing.T) {
	tests := []struct {
		locality, pattern string
		want              bool
	}{
		{"r1/z1/s1", "*", true},
		{"", "*", true},
		{"r1/z1/s1", "r1", true},
		{"r1/z1/s1", "r1/*", true},
		{"r1/z1/s1", "r1/z1/*", true},
		{"r1/z1/s1", "r1/z1/s1", true},
		{"r1/z1/s1", "r1/z2/*", false},
		{"r1/z1/s1", "r2/*", false},
		{"r1/z1/s1", "r1/z1/s2", false},
		{"r1", "r1/z1", false},
		{"r9/z1", "*/z1", true},
	}
	for _, tt := range tests {
		if got := localityMatch(loc(tt.locality), tt.pattern); got != tt.want {
			t.Errorf("localityMatch(%q, %q) = %v, want %v", tt.locality, tt.pattern, got, tt.want)
		}
	}
}

// TestDistributeWeights checks Istio's weight arithmetic: the first
// matching from decides; a to pattern's weight is shared among the
// localities it claims in proportion to their endpoint weights, rounded
// up; unclaimed localities get 0.
func TestDistributeWeights(t *testing.T) {
	dist := func(from string, to map[string]uint32) *networkingv1.LocalityLoadBalancerSetting_Distribute {
		return &networkingv1.LocalityLoadBalancerSetting_Distribute{From: from, To: to}
	}
	groups := []localityGroup{
		{loc("r1/z1"), 3}, {loc("r1/z2"), 1}, {loc("r2/z1"), 2}, {loc("r2/z2"), 1},
	}
	tests := []struct {
		name       string
		gw         string
		distribute []*networkingv1.LocalityLoadBalancerSetting_Distribute
		want       []uint32
		wantFrom   int
	}{
		{"no from matches", "r9/z1", []*networkingv1.LocalityLoadBalancerSetting_Distribute{
			dist("r1/*", map[string]uint32{"r1/*": 100}),
		}, []uint32{3, 1, 2, 1}, -1},
		{"70/30 by zone, others dropped", "r1/z1", []*networkingv1.LocalityLoadBalancerSetting_Distribute{
			dist("r1/z1", map[string]uint32{"r1/z1": 70, "r1/z2": 30}),
		}, []uint32{70, 30, 0, 0}, 0},
		{"wildcard shared by endpoint weight", "r1/z1", []*networkingv1.LocalityLoadBalancerSetting_Distribute{
			dist("r1/*", map[string]uint32{"r1/*": 80, "r2/*": 20}),
		}, []uint32{60, 20, 14, 7}, 0}, // ceil(3*80/4), ceil(1*80/4), ceil(2*20/3), ceil(1*20/3)
		{"first matching from wins", "r1/z2", []*networkingv1.LocalityLoadBalancerSetting_Distribute{
			dist("r2/*", map[string]uint32{"r2/*": 100}),
			dist("r1/z2", map[string]uint32{"r1/z2": 100}),
			dist("*", map[string]uint32{"*": 100}),
		}, []uint32{0, 100, 0, 0}, 1},
		{"specific pattern claims first", "r1/z1", []*networkingv1.LocalityLoadBalancerSetting_Distribute{
			dist("*", map[string]uint32{"r1/*": 40, "r1/z1": 60}),
		}, []uint32{60, 40, 0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from := distributeWeights(loc(tt.gw), groups, tt.distribute)
			if !slices.Equal(got, tt.want) || from != tt.wantFrom {
				t.Errorf("distributeWeights = %v from %d, want %v from %d", got, from, tt.want, tt.wantFrom)
			}
		})
	}
}

// TestTopologyLabels checks how positions are labelled: synthesised
// region, zone, subzone, cluster and node replace written ones, while a
// written network label wins over the synthesised network.
func TestTopologyLabels(t *testing.T) {
	own := map[string]string{
		"app": "x", labelRegion: "wrong", labelCluster: "wrong", labelNetwork: "written",
	}
	got := topologyLabels(own, loc("r1/z1/s1"), "cluster-a", "node-1", "net-a")
	want := map[string]string{
		"app": "x", labelRegion: "r1", labelZone: "z1", labelSubzone: "s1",
		labelCluster: "cluster-a", labelHostname: "node-1", labelNetwork: "written",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if own[labelRegion] != "wrong" {
		t.Error("topologyLabels modified its input")
	}
	// Unknown parts are not invented.
	if got := topologyLabels(nil, snapshot.Locality{}, "", "", ""); len(got) != 0 {
		t.Errorf("empty position labels = %v", got)
	}
}

// TestWorkloadLocality checks Istio's reading of a WorkloadEntry: the
// locality field first, then the topology.istio.io/locality label, then
// the legacy istio-locality label, dots standing for slashes.
func TestWorkloadLocality(t *testing.T) {
	tests := []struct {
		name     string
		locality string
		labels   map[string]string
		want     string
	}{
		{"field", "r1/z1/s1", nil, "r1/z1/s1"},
		{"field wins over label", "r1/z1", map[string]string{labelLocality: "r2.z2"}, "r1/z1"},
		{"label with dots", "", map[string]string{labelLocality: "r2.z2.s2"}, "r2/z2/s2"},
		{"label with slashes kept", "", map[string]string{labelLocality: "r2/z2"}, "r2/z2"},
		{"new label before legacy", "", map[string]string{labelLocality: "r2", labelLegacyLocality: "r3"}, "r2"},
		{"legacy label", "", map[string]string{labelLegacyLocality: "r3.z3"}, "r3/z3"},
		{"none", "", map[string]string{"app": "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workloadLocality(&networkingv1.WorkloadEntry{Locality: tt.locality, Labels: tt.labels})
			if got != loc(tt.want) {
				t.Errorf("workloadLocality = %+v, want %q", got, tt.want)
			}
		})
	}
}
