package translate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// Consistent-hash defaults: Envoy's minimum ring size as Istio leaves it,
// and the Maglev table size from the DestinationRule API: "The table size
// must be prime number less than 5000011. If it is not specified, the
// default is 65537."
const (
	defaultRingSize    = 1024
	defaultTableSize   = 65537
	maxMaglevTableSize = 5000011
)

// lbPolicy translates a loadBalancer setting. For an unset or UNSPECIFIED
// policy the API says "Istio will select an appropriate default", and
// Istio picks LEAST_REQUEST; LEAST_CONN is its deprecated alias.
func (b *builder) lbPolicy(lb *networkingv1.LoadBalancerSettings, src policySource) snapshot.LBPolicy {
	def := snapshot.LBPolicy{Kind: snapshot.LBLeastRequest}
	switch p := lb.GetLbPolicy().(type) {
	case *networkingv1.LoadBalancerSettings_Simple:
		switch p.Simple {
		case networkingv1.LoadBalancerSettings_ROUND_ROBIN:
			return snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}
		case networkingv1.LoadBalancerSettings_RANDOM:
			return snapshot.LBPolicy{Kind: snapshot.LBRandom}
		case networkingv1.LoadBalancerSettings_PASSTHROUGH:
			b.report(&src.dr.Meta, diag.Warning, CodePassthrough, src.field+".simple",
				"PASSTHROUGH forwards to the original destination address, which a gateway does not have; LEAST_REQUEST is used",
				"pick ROUND_ROBIN, LEAST_REQUEST or RANDOM")
		}
	case *networkingv1.LoadBalancerSettings_ConsistentHash:
		if p.ConsistentHash != nil {
			return b.consistentHash(p.ConsistentHash, src)
		}
	}
	return def
}

// consistentHash translates consistentHash: ring hash unless maglev is
// asked for, and the request attribute to hash.
func (b *builder) consistentHash(ch *networkingv1.LoadBalancerSettings_ConsistentHashLB, src policySource) snapshot.LBPolicy {
	field := src.field + ".consistentHash"
	out := snapshot.LBPolicy{Kind: snapshot.LBRingHash}
	switch alg := ch.HashAlgorithm.(type) {
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_Maglev:
		out.Kind = snapshot.LBMaglev
		out.TableSize = defaultTableSize
		if n := alg.Maglev.GetTableSize(); n != 0 {
			if n < maxMaglevTableSize && isPrime(n) {
				out.TableSize = n
			} else {
				b.report(&src.dr.Meta, diag.Warning, CodeMaglevTableSize, field+".maglev.tableSize",
					fmt.Sprintf("table size %d is not a prime below %d; %d is used", n, maxMaglevTableSize, defaultTableSize),
					"pick a prime such as 65537 or 131071")
			}
		}
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_RingHash_:
		out.RingSize = alg.RingHash.GetMinimumRingSize()
	}
	if out.Kind == snapshot.LBRingHash {
		if out.RingSize == 0 {
			out.RingSize = ch.MinimumRingSize // deprecated, still honoured
		}
		if out.RingSize == 0 {
			out.RingSize = defaultRingSize
		}
	}

	switch key := ch.HashKey.(type) {
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName:
		if key.HttpHeaderName != "" {
			out.Hash = &snapshot.HashPolicy{Header: strings.ToLower(key.HttpHeaderName)}
		}
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_HttpCookie:
		if c := key.HttpCookie; c != nil && c.Name != "" {
			cookie := &snapshot.HashCookie{Name: c.Name, Path: c.Path}
			if c.Ttl != nil {
				ttl := c.Ttl.AsDuration()
				cookie.TTL = &ttl
			}
			out.Hash = &snapshot.HashPolicy{Cookie: cookie}
		}
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_UseSourceIp:
		if key.UseSourceIp {
			out.Hash = &snapshot.HashPolicy{SourceIP: true}
		}
	case *networkingv1.LoadBalancerSettings_ConsistentHashLB_HttpQueryParameterName:
		if key.HttpQueryParameterName != "" {
			out.Hash = &snapshot.HashPolicy{QueryParam: key.HttpQueryParameterName}
		}
	}
	if out.Hash == nil {
		b.report(&src.dr.Meta, diag.Warning, CodeNoHashKey, field,
			"consistentHash names no usable hash key, so requests carry no hash and endpoints are picked at random",
			"set httpHeaderName, httpCookie.name, useSourceIp: true or httpQueryParameterName")
	}
	return out
}

func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for d := uint64(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
