package accesslog

import "testing"

// Flags print in Envoy's order, so combined flags read as in Envoy's
// access logs.
func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    Flags
		want string
	}{
		{0, "-"},
		{UpstreamOverflow, "UO"},
		{UpstreamRetryLimitExceeded | UpstreamConnectionFailure, "UF,URX"},
		{UpstreamRetryLimitExceeded | UpstreamRequestTimeout, "UT,URX"},
		{FaultInjected | DelayInjected, "DI,FI"},
		{NoClusterFound | NoRoute, "NR,NC"},
		{DownstreamConnectionTermination | DelayInjected, "DI,DC"},
	}
	for _, tc := range tests {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%#x: %q, want %q", uint32(tc.f), got, tc.want)
		}
	}
}
