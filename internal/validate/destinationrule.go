package validate

import (
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// checkDestinationRule is Istio's ValidateDestinationRule with the CRD's
// numeric constraints (warmup percentages, duration minimums).
func checkDestinationRule(dr *resource.DestinationRule) diag.List {
	r := newReporter(&dr.Meta)
	spec := dr.Spec
	if spec == nil {
		return nil
	}
	if spec.Host == "" {
		r.errorf(translate.CodeNoDestinationRuleHost, "spec.host", "name the Service or ServiceEntry host it configures",
			"Required value: host is required")
	} else if err := validateWildcardDomain(spec.Host); err != nil && !isIP(spec.Host) {
		r.errorf(CodeHost, "spec.host", "", "%v", err)
	}
	r.checkTrafficPolicy("spec.trafficPolicy", spec.TrafficPolicy, nil)
	names := map[string]bool{}
	for i, s := range spec.Subsets {
		field := index("spec.subsets", i)
		if s == nil {
			r.required(field, "", "subset may not be null")
			continue
		}
		switch {
		case s.Name == "":
			r.required(field+".name", "name the subset, e.g. v1", "subset name cannot be empty")
		case !isDNS1123Label(s.Name):
			r.invalid(CodeName, field+".name", "subset names are DNS labels: lower-case letters, digits and '-'", s.Name, "subset name is invalid")
		case names[s.Name]:
			r.duplicate(field+".name", "give each subset its own name", s.Name)
		}
		names[s.Name] = true
		r.checkLabels(field+".labels", s.Labels)
		r.checkTrafficPolicy(field+".trafficPolicy", s.TrafficPolicy, spec.TrafficPolicy.GetOutlierDetection())
	}
	r.checkExportTo("spec.exportTo", dr.Namespace, spec.ExportTo, false)
	if ws := spec.WorkloadSelector; ws != nil {
		r.checkSelector("spec.workloadSelector.matchLabels", ws.MatchLabels)
		if len(ws.MatchLabels) == 0 {
			r.warnf(CodeSelector, "spec.workloadSelector", "list the labels of the workloads it is for", "workload selector specified without labels")
		}
		for i, e := range spec.ExportTo {
			if e != "." && e != dr.Namespace {
				r.errorf(CodeExportTo, index("spec.exportTo", i), "", "destination rule with workload selector cannot have exportTo beyond current namespace")
			}
		}
	}
	return r.out
}

// checkTrafficPolicy checks one traffic policy. inherited is the outlier
// detection the policy inherits when it sets none (a subset's policy
// inherits the rule's top-level fields), which decides whether failover
// can work.
func (r *reporter) checkTrafficPolicy(field string, p *networking.TrafficPolicy, inherited *networking.OutlierDetection) {
	if p == nil {
		return
	}
	if p.OutlierDetection == nil && p.ConnectionPool == nil && p.LoadBalancer == nil && p.Tls == nil &&
		p.PortLevelSettings == nil && p.Tunnel == nil && p.ProxyProtocol == nil && p.RetryBudget == nil {
		r.errorf(CodeEmpty, field, "remove it, or set loadBalancer, connectionPool, outlierDetection or tls",
			"traffic policy must have at least one field")
		return
	}
	if p.Tunnel != nil && p.ProxyProtocol != nil {
		r.errorf(CodeExclusive, field+".proxyProtocol", "", "tunnel and proxyProtocol must not be set together")
	}
	if pp := p.ProxyProtocol; pp != nil && pp.Version != networking.TrafficPolicy_ProxyProtocol_V1 && pp.Version != networking.TrafficPolicy_ProxyProtocol_V2 {
		r.invalid(CodeRange, field+".proxyProtocol.version", "", pp.Version, "proxy protocol version is invalid")
	}
	od := p.OutlierDetection
	if od == nil {
		od = inherited
	}
	r.checkPolicyParts(field, p.LoadBalancer, p.ConnectionPool, p.OutlierDetection, od, p.Tls)
	for i, pl := range p.PortLevelSettings {
		pf := index(field+".portLevelSettings", i)
		if pl == nil {
			r.required(pf, "", "traffic policy may not be null")
			continue
		}
		if pl.Port == nil {
			r.required(pf+".port", "name the port the settings are for", "portTrafficPolicy must have valid port")
		} else {
			r.checkPort(pf+".port.number", pl.Port.Number)
		}
		if pl.OutlierDetection == nil && pl.ConnectionPool == nil && pl.LoadBalancer == nil && pl.Tls == nil {
			r.errorf(CodeEmpty, pf, "", "port traffic policy must have at least one field")
			continue
		}
		pod := pl.OutlierDetection
		if pod == nil {
			pod = od
		}
		r.checkPolicyParts(pf, pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pod, pl.Tls)
	}
}

// checkPolicyParts checks the parts a policy and a port-level policy
// share; effective is the outlier detection in force after inheritance.
func (r *reporter) checkPolicyParts(field string, lb *networking.LoadBalancerSettings, cp *networking.ConnectionPoolSettings,
	od, effective *networking.OutlierDetection, tls *networking.ClientTLSSettings,
) {
	r.checkOutlier(field+".outlierDetection", od)
	r.checkConnectionPool(field+".connectionPool", cp)
	r.checkLoadBalancer(field+".loadBalancer", lb, effective)
	r.checkClientTLS(field+".tls", tls)
}

func (r *reporter) checkOutlier(field string, od *networking.OutlierDetection) {
	if od == nil {
		return
	}
	r.checkDuration(field+".baseEjectionTime", od.BaseEjectionTime)
	r.checkDuration(field+".interval", od.Interval)
	if od.ConsecutiveErrors != 0 {
		r.warnf(CodeDeprecated, field+".consecutiveErrors", "use consecutive5xxErrors or consecutiveGatewayErrors",
			"outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead")
	}
	if !od.SplitExternalLocalOriginErrors && od.ConsecutiveLocalOriginFailures.GetValue() > 0 {
		r.errorf(CodeExclusive, field+".consecutiveLocalOriginFailures", "set splitExternalLocalOriginErrors: true",
			"outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false")
	}
	for _, p := range []struct {
		name string
		v    int32
	}{{"maxEjectionPercent", od.MaxEjectionPercent}, {"minHealthPercent", od.MinHealthPercent}} {
		if p.v < 0 || p.v > 100 {
			r.invalid(translate.CodeOutlierValue, field+"."+p.name, "", p.v, "percentage is not in range 0..100")
		}
	}
}

func (r *reporter) checkConnectionPool(field string, cp *networking.ConnectionPoolSettings) {
	if cp == nil {
		return
	}
	if cp.Http == nil && cp.Tcp == nil {
		r.errorf(CodeEmpty, field, "set tcp or http limits, or remove it", "connection pool must have at least one field")
		return
	}
	nonNegative := func(f string, v int32) {
		if v < 0 {
			r.invalid(CodeRange, f, "", v, "must be non-negative")
		}
	}
	if h := cp.Http; h != nil {
		f := field + ".http"
		nonNegative(f+".http1MaxPendingRequests", h.Http1MaxPendingRequests)
		nonNegative(f+".http2MaxRequests", h.Http2MaxRequests)
		nonNegative(f+".maxRequestsPerConnection", h.MaxRequestsPerConnection)
		nonNegative(f+".maxRetries", h.MaxRetries)
		nonNegative(f+".maxConcurrentStreams", h.MaxConcurrentStreams)
		r.checkDuration(f+".idleTimeout", h.IdleTimeout)
		if h.H2UpgradePolicy == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE && h.UseClientProtocol {
			r.errorf(CodeExclusive, f+".useClientProtocol", "", "use client protocol must not be true when H2UpgradePolicy is UPGRADE")
		}
		if ka := h.Http2KeepAlive; ka != nil {
			r.checkDuration(f+".http2KeepAlive.interval", ka.Interval)
			r.checkDuration(f+".http2KeepAlive.timeout", ka.Timeout)
		}
	}
	if t := cp.Tcp; t != nil {
		f := field + ".tcp"
		nonNegative(f+".maxConnections", t.MaxConnections)
		r.checkDuration(f+".connectTimeout", t.ConnectTimeout)
		r.checkDuration(f+".maxConnectionDuration", t.MaxConnectionDuration)
		r.checkDuration(f+".idleTimeout", t.IdleTimeout)
		if ka := t.TcpKeepalive; ka != nil {
			r.checkDuration(f+".tcpKeepalive.time", ka.Time)
			r.checkDuration(f+".tcpKeepalive.interval", ka.Interval)
		}
	}
}

func (r *reporter) checkLoadBalancer(field string, lb *networking.LoadBalancerSettings, od *networking.OutlierDetection) {
	if lb == nil {
		return
	}
	if ch := lb.GetConsistentHash(); ch != nil {
		cf := field + ".consistentHash"
		if c := ch.GetHttpCookie(); c != nil && c.Name == "" {
			r.required(cf+".httpCookie.name", "", "name required for HttpCookie")
		}
		if ch.MinimumRingSize != 0 {
			r.warnf(CodeDeprecated, cf+".minimumRingSize", "use ringHash.minimumRingSize",
				"consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead")
			if ch.HashAlgorithm != nil {
				r.errorf(CodeExclusive, cf+".minimumRingSize", "", "only one of MinimumRingSize or Maglev/Ringhash can be specified")
			}
		}
		if ml := ch.GetMaglev(); ml != nil && (ml.TableSize == 0 || ml.TableSize >= 5000011 || !isPrime(ml.TableSize)) {
			r.invalid(translate.CodeMaglevTableSize, cf+".maglev.tableSize", "use a prime such as 65537", ml.TableSize,
				"tableSize must be a prime number less than 5000011 for maglev")
		}
	}
	r.checkLocality(field+".localityLbSetting", lb.LocalityLbSetting, od)
	r.checkDuration(field+".warmupDurationSecs", lb.WarmupDurationSecs)
	if w := lb.Warmup; w != nil {
		wf := field + ".warmup"
		if w.Duration == nil {
			r.required(wf+".duration", "set how long the ramp-up lasts, e.g. 60s", "warmup.duration is required")
		}
		r.checkDuration(wf+".duration", w.Duration)
		if p := w.MinimumPercent; p != nil && (p.Value < 0 || p.Value > 100) {
			r.invalid(CodeRange, wf+".minimumPercent", "", p.Value, "must be between 0 and 100")
		}
		if a := w.Aggression; a != nil && a.Value < 0 {
			r.invalid(CodeRange, wf+".aggression", "1 ramps linearly; larger values ramp faster", a.Value, "must be at least 0")
		}
	}
}

// checkLocality is Istio's ValidateLocalityLbSetting for failover; the
// distribute rules are translate's (MG1604, MG1605). Failover without
// outlier detection keeps translate's code and field, so the two stages
// report it once.
func (r *reporter) checkLocality(field string, ls *networking.LocalityLoadBalancerSetting, od *networking.OutlierDetection) {
	if ls == nil {
		return
	}
	if len(ls.Failover) > 0 && len(ls.FailoverPriority) > 0 {
		for i, l := range ls.FailoverPriority {
			switch strings.TrimPrefix(l, "=") {
			case "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone":
				r.errorf(CodeLocality, index(field+".failoverPriority", i), "drop failover, or the topology label",
					"can not simultaneously set 'failover' and topology label '%s' in 'failover_priority'", l)
			}
		}
	}
	for i, f := range ls.Failover {
		ff := index(field+".failover", i)
		switch {
		case f == nil:
		case f.From == f.To:
			r.errorf(CodeLocality, ff, "", "locality lb failover settings must specify different regions")
		case strings.Contains(f.From, "/") || strings.Contains(f.To, "/"):
			r.errorf(CodeLocality, ff, "failover names regions only; use failoverPriority for zones", "locality lb failover only specify region")
		case strings.Contains(f.From, "*") || strings.Contains(f.To, "*"):
			r.errorf(CodeLocality, ff, "", "locality lb failover region should not contain '*' wildcard")
		}
	}
	if od == nil && (len(ls.Failover) > 0 || len(ls.FailoverPriority) > 0) {
		f, what := field+".failover", "failover"
		if len(ls.FailoverPriority) > 0 {
			f, what = field+".failoverPriority", "failoverPriority"
		}
		r.warnf(translate.CodeFailoverWithoutOutlier, f, "add outlierDetection next to loadBalancer, e.g. consecutive5xxErrors: 5",
			"%s has no effect without outlierDetection in the same traffic policy; Istio ignores it silently", what)
	}
}

func (r *reporter) checkClientTLS(field string, t *networking.ClientTLSSettings) {
	if t == nil {
		return
	}
	terminating := t.Mode == networking.ClientTLSSettings_SIMPLE || t.Mode == networking.ClientTLSSettings_MUTUAL
	if terminating && t.InsecureSkipVerify.GetValue() {
		if len(t.SubjectAltNames) > 0 {
			r.errorf(CodeClientTLS, field+".subjectAltNames", "", "cannot specify SubjectAltNames when InsecureSkipVerify is set to true")
		}
		if t.CaCertificates != "" {
			r.errorf(CodeClientTLS, field+".caCertificates", "", "cannot specify CaCertificates when InsecureSkipVerify is set to true")
		}
	}
	if terminating && t.CredentialName != "" {
		if t.ClientCertificate != "" || t.CaCertificates != "" || t.PrivateKey != "" || t.CaCrl != "" {
			r.errorf(CodeClientTLS, field+".credentialName", "keep the certificates in the Secret",
				"cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
		}
		return
	}
	if terminating && t.CaCertificates == "" && t.CredentialName == "" && !t.InsecureSkipVerify.GetValue() {
		r.warnf(CodeNoServerCertVerification, field+".caCertificates", "set caCertificates (or credentialName) to the CA that signs the upstream's certificate",
			"%s TLS names no CA (caCertificates or credentialName), so the upstream's certificate is not checked against a CA you chose", t.Mode)
	}
	if t.Mode == networking.ClientTLSSettings_MUTUAL {
		if t.ClientCertificate == "" {
			r.errorf(CodeClientTLS, field+".clientCertificate", "or set credentialName", "client certificate required for mutual tls")
		}
		if t.PrivateKey == "" {
			r.errorf(CodeClientTLS, field+".privateKey", "or set credentialName", "private key required for mutual tls")
		}
	}
}

// isPrime is Envoy's primality test, which Istio copies for Maglev table
// sizes.
func isPrime(x uint64) bool {
	if x != 0 && x < 4 {
		return true
	}
	if x&1 == 0 {
		return false
	}
	for f := uint64(3); f*f <= x; f += 2 {
		if x%f == 0 {
			return false
		}
	}
	return true
}
