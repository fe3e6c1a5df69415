package accesslog

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
	// UpstreamOverflow (UO): a circuit breaker refused the request (503
	// with x-envoy-overloaded: true) or a retry (the response is then
	// the last attempt's).
	UpstreamOverflow
	// UpstreamRetryLimitExceeded (URX): the last attempt failed in a way
	// the retry policy retries, but no retry was left.
	UpstreamRetryLimitExceeded
	// DelayInjected (DI): fault injection delayed the request.
	DelayInjected
	// FaultInjected (FI): fault injection aborted the request.
	FaultInjected
)

// flagNames is in the order Envoy prints flags (the order of its
// response-flag enumeration), so combinations such as "UF,URX" read the
// same as in Envoy's logs.
var flagNames = []struct {
	f    Flags
	name string
}{
	{NoHealthyUpstream, "UH"},
	{UpstreamRequestTimeout, "UT"},
	{UpstreamRemoteReset, "UR"},
	{UpstreamConnectionFailure, "UF"},
	{UpstreamConnectionTermination, "UC"},
	{UpstreamOverflow, "UO"},
	{NoRoute, "NR"},
	{DelayInjected, "DI"},
	{FaultInjected, "FI"},
	{DownstreamConnectionTermination, "DC"},
	{UpstreamRetryLimitExceeded, "URX"},
	{NoClusterFound, "NC"},
}

// String renders the flags as Envoy does: comma-separated codes, or "-"
// when none is set.
func (f Flags) String() string {
	if f == 0 {
		return "-"
	}
	return string(f.AppendTo(nil))
}

// AppendTo appends the flags as String renders them.
func (f Flags) AppendTo(b []byte) []byte {
	if f == 0 {
		return append(b, '-')
	}
	first := true
	for _, n := range flagNames {
		if f&n.f != 0 {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, n.name...)
		}
	}
	return b
}
