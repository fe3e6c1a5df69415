package translate

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// Retry defaults. Istio's built-in policy, used when a route has no
// `retries`: 2 retries on connect-failure, refused-stream, unavailable,
// cancelled and retriable-status-codes (with no status codes listed, so
// the last is inert; Istio leaves 503 out unless
// EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY is turned off), avoiding hosts
// already tried. Envoy's default backoff base interval is 25ms.
const (
	defaultRetryAttempts = 2
	defaultRetryBackoff  = 25 * time.Millisecond
	retriableStatusCodes = "retriable-status-codes"
)

// defaultRetryOn is Istio's built-in retry_on, sorted.
var defaultRetryOn = []string{"cancelled", "connect-failure", "refused-stream", retriableStatusCodes, "unavailable"}

// retryConditions are the retry_on conditions meshgate retries on: Envoy's
// x-envoy-retry-on vocabulary and the gRPC conditions of
// x-envoy-retry-grpc-on, which Istio's validation accepts in retryOn.
var retryConditions = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true,
	"connect-failure": true, "envoy-ratelimited": true, "retriable-4xx": true,
	"refused-stream": true, retriableStatusCodes: true, "retriable-headers": true,
	"cancelled": true, "deadline-exceeded": true, "internal": true,
	"resource-exhausted": true, "unavailable": true,
}

// compiledRetry is a route's retries block. policy is nil when attempts
// is 0, which turns retries off. ignoreSet records an explicit
// retryIgnorePreviousHosts, which the consistent-hash exception must not
// override.
type compiledRetry struct {
	policy    *snapshot.RetryPolicy
	ignoreSet bool
}

// istioDefaultRetry is the policy of a route without `retries`.
func istioDefaultRetry() *snapshot.RetryPolicy {
	return &snapshot.RetryPolicy{
		Attempts:            defaultRetryAttempts,
		RetryOn:             defaultRetryOn,
		IgnorePreviousHosts: true,
		BackoffBase:         defaultRetryBackoff,
		Default:             true,
	}
}

// compileRetry translates a retries block the way Istio does: a block
// starts from the built-in policy and overrides what it sets; attempts 0
// turns retries off; numeric retryOn tokens become retriable status codes
// and add the retriable-status-codes condition.
func (b *builder) compileRetry(vs *resource.VirtualService, field string, in *networkingv1.HTTPRetry) (*compiledRetry, bool) {
	ok := true
	if in.Attempts < 0 {
		b.report(&vs.Meta, diag.Error, CodeRetries, field+".attempts",
			fmt.Sprintf("attempts %d is negative; the route is dropped", in.Attempts), "use 0 to turn retries off")
		ok = false
	}
	if in.PerTryTimeout != nil {
		if problem := durationProblem(in.PerTryTimeout); problem != "" {
			b.report(&vs.Meta, diag.Error, CodeRetries, field+".perTryTimeout",
				fmt.Sprintf("perTryTimeout %s; the route is dropped", problem), "use a duration of at least 1ms")
			ok = false
		}
	}
	if in.Backoff != nil {
		if problem := durationProblem(in.Backoff); problem != "" {
			b.report(&vs.Meta, diag.Error, CodeRetries, field+".backoff",
				fmt.Sprintf("backoff %s; the route is dropped", problem), "use a duration of at least 1ms; Envoy's default is 25ms")
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	if in.Attempts == 0 {
		if in.PerTryTimeout != nil || in.RetryOn != "" || in.RetryRemoteLocalities != nil ||
			in.RetryIgnorePreviousHosts != nil || in.Backoff != nil {
			b.report(&vs.Meta, diag.Warning, CodeRetries, field,
				"attempts is 0, which turns retries off, so the other retry settings are ignored (Istio's validation rejects them)",
				"set attempts, or remove the retries block to get Istio's default policy")
		}
		return &compiledRetry{}, true
	}

	p := istioDefaultRetry()
	p.Default = false
	p.Attempts = uint32(in.Attempts)
	if in.PerTryTimeout != nil {
		p.PerTryTimeout = in.PerTryTimeout.AsDuration()
	}
	if in.Backoff != nil {
		p.BackoffBase = in.Backoff.AsDuration()
	}
	p.RetryRemoteLocalities = in.RetryRemoteLocalities.GetValue()
	out := &compiledRetry{policy: p}
	if v := in.RetryIgnorePreviousHosts; v != nil {
		p.IgnorePreviousHosts = v.GetValue()
		out.ignoreSet = true
	}
	if in.RetryOn != "" {
		p.RetryOn, p.RetriableStatusCodes = b.parseRetryOn(vs, field+".retryOn", in.RetryOn)
	}
	return out, true
}

// parseRetryOn splits retryOn on commas. Tokens that are HTTP status codes
// become retriable status codes, and retriable-status-codes is added so
// they take effect (Istio's parseRetryOn). Unknown tokens are reported and
// dropped rather than passed on, since nothing would act on them. The
// result is deduplicated and sorted.
func (b *builder) parseRetryOn(vs *resource.VirtualService, field, retryOn string) ([]string, []uint32) {
	conds := map[string]bool{}
	codes := map[uint32]bool{}
	for _, tok := range strings.Split(retryOn, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if n, err := strconv.Atoi(tok); err == nil {
			if http.StatusText(n) == "" {
				b.report(&vs.Meta, diag.Warning, CodeRetryOn, field,
					fmt.Sprintf("%q is not an HTTP status code; it is ignored", tok), "")
				continue
			}
			codes[uint32(n)] = true
			continue
		}
		switch {
		case retryConditions[tok]:
			conds[tok] = true
		case tok == "http3-post-connect-failure":
			b.report(&vs.Meta, diag.Warning, CodeRetryOn, field,
				"http3-post-connect-failure never applies: meshgate does not use HTTP/3 upstream; it is ignored", "")
		default:
			b.report(&vs.Meta, diag.Warning, CodeRetryOn, field,
				fmt.Sprintf("%q is not a retry condition; it is ignored", tok),
				"use Envoy's conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, "+
					"retriable-status-codes, envoy-ratelimited, ...), gRPC codes (unavailable, cancelled, ...) or status codes")
		}
	}
	if len(codes) > 0 {
		conds[retriableStatusCodes] = true
	}
	on := sortedKeys(conds)
	if len(on) == 0 {
		b.report(&vs.Meta, diag.Warning, CodeRetryOn, field,
			"no usable retry condition is left, so no request is retried", "")
	}
	var list []uint32
	for c := range codes {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	return on, list
}

// routeRetry is the retry policy of a forwarding route on a listener.
// Like Istio, a route whose single destination balances by consistent
// hash does not avoid previous hosts on retry (the retry should reach the
// host the hash picked), unless retryIgnorePreviousHosts says otherwise;
// a weighted split keeps the default.
func (b *builder) routeRetry(p *routePolicy, dests []snapshot.WeightedCluster) *snapshot.RetryPolicy {
	r := compiledRetry{policy: istioDefaultRetry()}
	if p.retry != nil {
		r = *p.retry
	}
	if r.policy == nil {
		return nil
	}
	out := *r.policy
	if !r.ignoreSet && len(dests) == 1 && b.hashesRequests(dests[0].Cluster) {
		out.IgnorePreviousHosts = false
	}
	return &out
}

// hashesRequests reports whether a cluster balances by consistent hash
// (ring hash or Maglev), from its effective loadBalancer setting.
func (b *builder) hashesRequests(cluster string) bool {
	ref, ok := b.refs[cluster]
	if !ok {
		return false
	}
	rule := b.destinationRule(ref.svc)
	var sub *subsetDef
	if ref.subset != "" && rule != nil {
		sub = rule.subset(ref.subset)
	}
	return clusterPolicy(rule, sub, ref.port.number).lb.GetConsistentHash() != nil
}
