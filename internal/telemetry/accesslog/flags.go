package accesslog

import "strings"

// Flags is a set of Envoy response flags: why a response is what it is.
type Flags uint32

// Envoy's response flags (access-log %RESPONSE_FLAGS% vocabulary).
const (
	// NoRoute (NR): no route matched; 404.
	NoRoute Flags = 1 << iota
	// NoHealthyUpstream (UH): the cluster has no usable endpoint; 503.
	NoHealthyUpstream
	// UpstreamConnectionFailure (UF): connecting to the endpoint failed; 503.
	UpstreamConnectionFailure
	// NoClusterFound (NC): the route's cluster does not exist; 503.
	NoClusterFound
	// UpstreamConnectionTermination (UC): the upstream closed the
	// connection before a response; 503.
	UpstreamConnectionTermination
	// UpstreamRequestTimeout (UT): the upstream did not answer in time; 504.
	UpstreamRequestTimeout
	// DownstreamConnectionTermination (DC): the client went away.
	DownstreamConnectionTermination
	// UpstreamRemoteReset (UR): the upstream reset the stream.
	UpstreamRemoteReset
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{NoRoute, "NR"},
	{NoHealthyUpstream, "UH"},
	{UpstreamConnectionFailure, "UF"},
	{NoClusterFound, "NC"},
	{UpstreamConnectionTermination, "UC"},
	{UpstreamRequestTimeout, "UT"},
	{DownstreamConnectionTermination, "DC"},
	{UpstreamRemoteReset, "UR"},
}

// String renders the flags as Envoy does: comma-separated codes, or "-"
// when none is set.
func (f Flags) String() string {
	if f == 0 {
		return "-"
	}
	var b strings.Builder
	for _, n := range flagNames {
		if f&n.f != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}
