// Package snapshot is the immutable runtime model the data plane serves
// from: listeners with their virtual hosts and ordered routes, and clusters
// with their load-balancing policy and endpoints. translate builds a
// Snapshot; nothing modifies it afterwards, so requests read it without
// locks. Every map-derived slice is sorted, so identical input gives a
// byte-identical dump.
package snapshot

import (
	"regexp"
	"time"
)

// Snapshot is one fully resolved configuration.
type Snapshot struct {
	// Version is assigned when the snapshot is published (1, 2, ...).
	Version   uint64      `json:"version"`
	Listeners []*Listener `json:"listeners"`
	// Clusters is sorted by Name; use Cluster(name) to look one up.
	Clusters []*Cluster `json:"clusters"`

	clusterIndex map[string]*Cluster
}

// Protocol is a Gateway server protocol (Istio's port.protocol values).
type Protocol string

// Server protocols.
const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTP2 Protocol = "HTTP2"
	ProtocolGRPC  Protocol = "GRPC"
	// ProtocolGRPCWeb is served like HTTP: gRPC-Web is plain HTTP/1.1 or
	// HTTP/2 on the wire.
	ProtocolGRPCWeb Protocol = "GRPC-WEB"
	ProtocolHTTPS   Protocol = "HTTPS"
	ProtocolTCP     Protocol = "TCP"
	ProtocolTLS     Protocol = "TLS"
)

// Listener is one bound socket and what it serves.
type Listener struct {
	// Name is "<bind>_<port>", e.g. "0.0.0.0_80".
	Name string `json:"name"`
	// Bind is the IP address to listen on; empty means all addresses.
	Bind string `json:"bind,omitempty"`
	// Port is the Gateway server port number; it is what routes match with
	// `port` and what the Host header's port is compared against.
	Port uint32 `json:"port"`
	// BindPort is the port actually bound: the Service targetPort when a
	// Service selecting the gateway maps Port, else Port.
	BindPort uint32   `json:"bindPort"`
	Protocol Protocol `json:"protocol"`
	// Servers names the Gateway servers merged into this listener, as
	// "namespace/name/index".
	Servers      []string       `json:"servers"`
	VirtualHosts []*VirtualHost `json:"virtualHosts"`
	// Chains are the filter chains of a TLS or TCP listener (see
	// FilterChain); nil for a plain-text HTTP listener.
	Chains []*FilterChain `json:"chains,omitempty"`
}

// VirtualHost groups the routes served for a set of domains. Domains are
// lower-case; a leading "*." is a suffix wildcard and "*" matches any host.
type VirtualHost struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  []*Route `json:"routes"`
	// RequireTLS answers every request that did not arrive over TLS with
	// a 301 to the same URL with scheme https (a server's httpsRedirect;
	// Envoy's require_tls ALL).
	RequireTLS bool `json:"requireTls,omitempty"`
}

// Route is one HTTP route: the request matches it when any of Matches
// matches (an empty Matches matches everything); then Action applies.
type Route struct {
	// Name is the VirtualService route name, or "<namespace>/<vs>/<index>"
	// when the route has none.
	Name string `json:"name"`
	// VirtualService is "namespace/name" of the object the route came from.
	// For a route merged from a delegate it is the root VirtualService,
	// the one bound to the gateway.
	VirtualService string `json:"virtualService"`
	// Delegate is "namespace/name" of the delegate VirtualService the route
	// was merged from, if any.
	Delegate string  `json:"delegate,omitempty"`
	Matches  []Match `json:"matches,omitempty"`

	// Exactly one of the actions below is set.
	Destinations   []WeightedCluster `json:"destinations,omitempty"`
	DirectResponse *DirectResponse   `json:"directResponse,omitempty"`
	Redirect       *Redirect         `json:"redirect,omitempty"`

	// Policies around forwarding (Destinations only).
	// Timeout bounds the whole request including retries; 0 is none
	// (Istio's default).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Retry is nil when retries are off (attempts: 0); a route without
	// `retries` carries Istio's built-in policy (Default true).
	Retry   *RetryPolicy `json:"retry,omitempty"`
	Mirrors []Mirror     `json:"mirrors,omitempty"`
	Rewrite *Rewrite     `json:"rewrite,omitempty"`

	// Policies that apply whatever the action, as in Envoy, where they
	// run before the router (fault, CORS) or decorate every response the
	// route produces, local replies included (headers). Fault is never set
	// together with Redirect (Istio rejects that).
	Fault   *FaultPolicy `json:"fault,omitempty"`
	Headers *Headers     `json:"headers,omitempty"`
	CORS    *CORSPolicy  `json:"cors,omitempty"`
}

// WeightedCluster is one destination of a weighted split. Weights are
// relative: a destination receives Weight/sum(Weights) of the requests.
type WeightedCluster struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// Headers are the destination-level header operations; Envoy applies
	// them before the route-level ones.
	Headers *Headers `json:"headers,omitempty"`
	// Authority, when set, replaces the Host / :authority header of
	// requests sent to this destination (a destination-level `set` or
	// `add` of host or :authority). It is only set when the route itself
	// rewrites no authority: a route-level rewrite wins, as in Envoy.
	Authority string `json:"authority,omitempty"`
}

// DirectResponse answers without contacting an upstream.
type DirectResponse struct {
	Status uint32 `json:"status"`
	Body   []byte `json:"body,omitempty"`
}

// Redirect answers with a redirect.
type Redirect struct {
	URI       string `json:"uri,omitempty"`
	Authority string `json:"authority,omitempty"`
	Scheme    string `json:"scheme,omitempty"`
	Port      uint32 `json:"port,omitempty"`
	Code      uint32 `json:"code"`
	// PrefixRewrite, when set, replaces the part of the path the route's
	// prefix match matched (redirect.prefixRewrite); URI is then empty.
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	// DerivePort is redirect.derivePort when it is set:
	// "FROM_PROTOCOL_DEFAULT" means Location carries no port, so the
	// scheme's default applies (Port is 0); "FROM_REQUEST_PORT" means Port
	// already holds the port the request arrived on (the listener's Gateway
	// port), or 0 when that is the scheme's default, as Istio omits :80
	// for http and :443 for https. Empty when derivePort is not set.
	DerivePort string `json:"derivePort,omitempty"`
}

// Match is one HTTPMatchRequest: every condition set in it must hold.
type Match struct {
	Name           string        `json:"name,omitempty"`
	URI            *StringMatch  `json:"uri,omitempty"`
	Scheme         *StringMatch  `json:"scheme,omitempty"`
	Method         *StringMatch  `json:"method,omitempty"`
	Authority      *StringMatch  `json:"authority,omitempty"`
	Headers        []HeaderMatch `json:"headers,omitempty"`
	WithoutHeaders []HeaderMatch `json:"withoutHeaders,omitempty"`
	QueryParams    []QueryMatch  `json:"queryParams,omitempty"`
	IgnoreURICase  bool          `json:"ignoreUriCase,omitempty"`
	// Port, when non-zero, requires the request to arrive on the listener
	// with this Gateway port number.
	Port uint32 `json:"port,omitempty"`
}

// MatchKind says how a StringMatch compares.
type MatchKind string

// String match kinds. Present matches any value, including empty, as long
// as the header or parameter exists.
const (
	Exact   MatchKind = "exact"
	Prefix  MatchKind = "prefix"
	Regex   MatchKind = "regex"
	Present MatchKind = "present"
)

// StringMatch is Istio's StringMatch. Regex matches the whole value (RE2,
// anchored at both ends, as Envoy's safe_regex does).
type StringMatch struct {
	Kind  MatchKind `json:"kind"`
	Value string    `json:"value,omitempty"`
	// Compiled is the anchored regular expression when Kind is Regex.
	Compiled *regexp.Regexp `json:"-"`
}

// HeaderMatch matches one request header; Name is lower-case.
type HeaderMatch struct {
	Name  string      `json:"name"`
	Value StringMatch `json:"value"`
}

// QueryMatch matches one query parameter.
type QueryMatch struct {
	Name  string      `json:"name"`
	Value StringMatch `json:"value"`
}

// Cluster is an upstream service, subset and port: Envoy's
// "outbound|<port>|<subset>|<fqdn>".
type Cluster struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Port    uint32 `json:"port"`
	Subset  string `json:"subset,omitempty"`
	// DestinationRule is "namespace/name" of the rule whose policy applies.
	DestinationRule string   `json:"destinationRule,omitempty"`
	LB              LBPolicy `json:"lb"`
	// UpstreamProtocol is how requests are sent to the endpoints.
	UpstreamProtocol UpstreamProtocol `json:"upstreamProtocol"`
	ConnectTimeout   time.Duration    `json:"connectTimeout"`
	// Limits are the connectionPool circuit breakers and pool settings.
	Limits ConnectionLimits `json:"limits"`
	// Endpoints is sorted by Address. Each carries the priority and
	// locality weight translate computed for this gateway's position.
	Endpoints []Endpoint `json:"endpoints"`

	// Outlier is the outlier-detection policy; nil when none applies.
	Outlier *OutlierPolicy `json:"outlier,omitempty"`
	// LocalityWeighted makes the data plane choose a locality by its
	// LocalityWeight within a priority before choosing a host (Envoy's
	// locality_weighted_lb_config); otherwise a priority is balanced flat.
	LocalityWeighted bool `json:"localityWeighted,omitempty"`
	// PanicThreshold is Envoy's healthy_panic_threshold in percent: below
	// it a priority balances over all its hosts, healthy or not. 0
	// disables panic mode. Istio sets it to outlierDetection's
	// minHealthPercent (default 0) whenever outlier detection is on, and
	// Envoy's default is 50.
	PanicThreshold uint32 `json:"panicThreshold"`
	// Locality explains how priorities were assigned, for operators.
	Locality *LocalityPolicy `json:"locality,omitempty"`
	// Spillover is meshgate's load-based spillover; nil when off.
	Spillover *SpilloverPolicy `json:"spillover,omitempty"`
	// HostRewrite, when set, replaces the Host (:authority) of requests
	// sent to the cluster, unless a route rewrites the authority itself.
	// The service upstream mode sets it to the service name, and its only
	// endpoint is the service address (meshgate.io/upstream: service).
	HostRewrite string `json:"hostRewrite,omitempty"`
	// TLS, when set, originates TLS to the endpoints; nil sends plain
	// text (DestinationRule tls mode DISABLE, or none).
	TLS *UpstreamTLS `json:"tls,omitempty"`
	// Identities are the workload identities the service's endpoints may
	// present: a ServiceEntry's subjectAltNames, else the identities of
	// all the service's endpoints. ISTIO_MUTUAL accepts them from an
	// endpoint whose own identity is unknown.
	Identities []string `json:"identities,omitempty"`
}

// OutlierPolicy is Istio's outlierDetection with defaults applied. A zero
// threshold disables that detector.
type OutlierPolicy struct {
	Consecutive5xx                 uint32        `json:"consecutive5xxErrors"`
	ConsecutiveGatewayErrors       uint32        `json:"consecutiveGatewayErrors"`
	ConsecutiveLocalOriginFailures uint32        `json:"consecutiveLocalOriginFailures"`
	SplitExternalLocalOriginErrors bool          `json:"splitExternalLocalOriginErrors,omitempty"`
	Interval                       time.Duration `json:"interval"`
	BaseEjectionTime               time.Duration `json:"baseEjectionTime"`
	MaxEjectionTime                time.Duration `json:"maxEjectionTime"`
	MaxEjectionPercent             uint32        `json:"maxEjectionPercent"`
	// AlwaysEjectOneHost lets one host be ejected even when
	// MaxEjectionPercent would forbid it (Envoy's always_eject_one_host;
	// Istio does not set it, so it is off unless asked for).
	AlwaysEjectOneHost bool `json:"alwaysEjectOneHost,omitempty"`
}

// LocalityPolicy records which locality setting shaped a cluster's
// priorities and why, so /config_dump and explain can show it.
type LocalityPolicy struct {
	// Source is where the setting came from: "DestinationRule ns/name",
	// "Service trafficDistribution", "annotation on Service ns/name",
	// "annotation on Namespace ns", or "mesh default".
	Source string `json:"source"`
	// Mode is "distribute", "failover", "failoverPriority", or "none".
	Mode string `json:"mode"`
	// TrafficDistribution is the resolved mode (PreferSameZone, ...), if any.
	TrafficDistribution string `json:"trafficDistribution,omitempty"`
	// FailoverPriority is the effective label list, if any.
	FailoverPriority []string `json:"failoverPriority,omitempty"`
	// Failover lists the effective localityLbSetting.failover entries as
	// "from->to" regions, if any.
	Failover []string `json:"failover,omitempty"`
	// Reason says in words why Mode applies, e.g. that failover was
	// ignored for want of outlier detection.
	Reason string `json:"reason,omitempty"`
}

// SpilloverPolicy moves traffic to the next priority when the closer one
// is saturated, not only when it is unhealthy (a meshgate extension,
// configured by annotation on the DestinationRule).
type SpilloverPolicy struct {
	// MaxActiveRequestsPerEndpoint is the in-flight requests per healthy
	// endpoint above which a priority counts as saturated.
	MaxActiveRequestsPerEndpoint uint32 `json:"maxActiveRequestsPerEndpoint"`
}

// EndpointHealth is the health a source reports for an endpoint, before
// outlier detection.
type EndpointHealth string

// Endpoint health states (Istio's, from EndpointSlice conditions).
const (
	Healthy   EndpointHealth = "HEALTHY"
	Unhealthy EndpointHealth = "UNHEALTHY"
	// Draining endpoints finish their requests but get no new ones.
	Draining EndpointHealth = "DRAINING"
)

// UpstreamProtocol is the wire protocol towards a cluster's endpoints.
type UpstreamProtocol string

// Upstream protocols.
const (
	UpstreamHTTP1 UpstreamProtocol = "http1"
	// UpstreamH2C is HTTP/2 over cleartext with prior knowledge (gRPC,
	// http2 ports, h2UpgradePolicy UPGRADE).
	UpstreamH2C UpstreamProtocol = "h2c"
	// UpstreamClientProtocol uses the protocol the client used.
	UpstreamClientProtocol UpstreamProtocol = "client"
)

// LBKind names a load-balancing algorithm.
type LBKind string

// Load-balancing algorithms.
const (
	LBLeastRequest LBKind = "LEAST_REQUEST"
	LBRoundRobin   LBKind = "ROUND_ROBIN"
	LBRandom       LBKind = "RANDOM"
	LBRingHash     LBKind = "RING_HASH"
	LBMaglev       LBKind = "MAGLEV"
)

// LBPolicy is a cluster's load-balancing policy.
type LBPolicy struct {
	Kind LBKind `json:"kind"`
	// Hash is set for RING_HASH and MAGLEV: what the request is hashed on.
	// It is nil when the DestinationRule names no usable hash key; every
	// request then lacks a hash and the picker chooses at random, as Envoy
	// does.
	Hash *HashPolicy `json:"hash,omitempty"`
	// RingSize is the minimum ring size for RING_HASH (default 1024).
	RingSize uint64 `json:"ringSize,omitempty"`
	// TableSize is the Maglev lookup table size (a prime; default 65537).
	TableSize uint64 `json:"tableSize,omitempty"`
}

// HashPolicy says which part of a request a consistent hash uses. Exactly
// one field is set.
type HashPolicy struct {
	Header     string      `json:"header,omitempty"`
	Cookie     *HashCookie `json:"cookie,omitempty"`
	SourceIP   bool        `json:"sourceIP,omitempty"`
	QueryParam string      `json:"queryParam,omitempty"`
}

// HashCookie hashes on a cookie; when TTL is set and the cookie is missing
// the gateway generates one and returns it with Set-Cookie.
type HashCookie struct {
	Name string         `json:"name"`
	Path string         `json:"path,omitempty"`
	TTL  *time.Duration `json:"ttl,omitempty"`
}

// Locality is region/zone/subzone.
type Locality struct {
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	Subzone string `json:"subzone,omitempty"`
}

// String renders "region/zone/subzone" without trailing empty parts.
func (l Locality) String() string {
	s := l.Region
	if l.Zone != "" || l.Subzone != "" {
		s += "/" + l.Zone
	}
	if l.Subzone != "" {
		s += "/" + l.Subzone
	}
	return s
}

// Endpoint is one upstream instance of a cluster.
type Endpoint struct {
	// Address is "host:port" (IPv6 in brackets).
	Address  string            `json:"address"`
	Labels   map[string]string `json:"labels,omitempty"`
	Locality Locality          `json:"locality"`
	Network  string            `json:"network,omitempty"`
	// Weight is the endpoint's load-balancing weight (default 1).
	Weight uint32 `json:"weight"`
	// Origin names the object that declared the endpoint, e.g.
	// "WorkloadEntry default/echo-v1-a".
	Origin string `json:"origin,omitempty"`
	// Cluster is the Kubernetes cluster the endpoint runs in, if known.
	Cluster string `json:"cluster,omitempty"`
	// Priority is the endpoint's priority level for this gateway: 0 is
	// the closest; higher levels take traffic only as closer ones lose
	// health (or, with spillover, capacity).
	Priority uint32 `json:"priority"`
	// LocalityWeight is the weight of the endpoint's locality within its
	// priority when the cluster is LocalityWeighted (distribute weights,
	// or the sum of the locality's endpoint weights).
	LocalityWeight uint32 `json:"localityWeight,omitempty"`
	// Health is the source-reported health; empty means HEALTHY.
	Health EndpointHealth `json:"health,omitempty"`
	// Identity is the endpoint's workload identity, a SPIFFE ID
	// ("spiffe://<trust domain>/ns/<namespace>/sa/<service account>"),
	// when known: from a Pod's service account or a WorkloadEntry's
	// serviceAccount. ISTIO_MUTUAL checks the endpoint's certificate
	// against it.
	Identity string `json:"identity,omitempty"`
}

// Cluster returns the cluster with the given name, or nil.
func (s *Snapshot) Cluster(name string) *Cluster {
	if s.clusterIndex == nil {
		for _, c := range s.Clusters {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	return s.clusterIndex[name]
}

// Seal builds the lookup indexes. translate calls it once before the
// snapshot is shared; afterwards the snapshot must not change.
func (s *Snapshot) Seal() {
	s.clusterIndex = make(map[string]*Cluster, len(s.Clusters))
	for _, c := range s.Clusters {
		s.clusterIndex[c.Name] = c
	}
}
