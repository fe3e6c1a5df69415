package upstream

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream/h1"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Upstream HTTP defaults, Istio's where it documents one.
const (
	// defaultConnectTimeout is Istio's mesh connectTimeout default.
	defaultConnectTimeout = 10 * time.Second
	// maxIdlePerHost bounds the idle keep-alive connections kept per
	// endpoint; generous, because a gateway fans many clients into few
	// endpoints.
	maxIdlePerHost = 512
)

// Registry owns what must survive snapshot swaps: one lb.Host per cluster
// and endpoint address (its active-request count feeds LEAST_REQUEST; Envoy
// also keeps hosts per cluster), one transport per distinct transport
// setting (its connection pool), and per cluster name the outlier
// detector, its sweep schedule and the spillover counters.
type Registry struct {
	// mu serialises Build, Forget and Sweep: a sweep never runs on a
	// detector that a concurrent Build is carrying over to a new one.
	mu         sync.Mutex
	now        func() time.Time
	hosts      map[hostKey]*lb.Host
	transports map[transportKey]pooledTransport
	// h1 holds the HTTP/1.1 clients built on transports (h1pool.go).
	h1       map[transportKey]*h1.Client
	clusters map[string]*clusterState
	// current is the Set built last: the one requests use, and the one
	// Sweep rebuilds pickers for.
	current *Set
}

type hostKey struct{ cluster, address string }

// clusterState is what a cluster keeps across snapshots, by name.
type clusterState struct {
	outlier outlierState
	spill   *spillCounters
	breaker *Breaker
	// limit holds the connectionPool settings of the latest snapshot, for
	// the dialers of the cluster's transports, which outlive snapshots.
	limit atomic.Pointer[snapshot.ConnectionLimits]
	// tls is the compiled upstream TLS of the latest snapshot, for the
	// handshakes of the cluster's transport; nil for plain text.
	tls atomic.Pointer[clientTLS]
}

// pooledTransport is a transport with a connection pool.
type pooledTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// limits returns the cluster's connectionPool settings.
func (st *clusterState) limits() *snapshot.ConnectionLimits {
	if l := st.limit.Load(); l != nil {
		return l
	}
	return &snapshot.ConnectionLimits{}
}

// NewRegistry returns an empty registry. now is the clock of outlier
// detection (ejection times, sweep schedule); nil selects time.Now.
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{
		now:        now,
		hosts:      make(map[hostKey]*lb.Host),
		transports: make(map[transportKey]pooledTransport),
		clusters:   make(map[string]*clusterState),
	}
}

// transportKey says which transport (connection pool) a cluster uses.
// Clusters with equal settings share one. A cluster that limits or
// retires its connections (maxConnections, maxRequestsPerConnection,
// maxConnectionDuration) gets its own (cluster is set), so its
// connections are counted and retired on their own, per cluster, as Envoy
// counts them. A cluster that originates TLS gets its own too: its
// handshakes use the cluster's certificates and endpoint identities.
type transportKey struct {
	protocol       snapshot.UpstreamProtocol
	connectTimeout time.Duration
	idleTimeout    time.Duration
	keepalive      keepaliveKey
	cluster        string
	// tls is set for a TLS cluster, autoSNI when it sends each request's
	// host as SNI.
	tls, autoSNI bool
}

type keepaliveKey struct {
	set            bool
	probes         uint32
	time, interval time.Duration
}

func transportKeyOf(sc *snapshot.Cluster) transportKey {
	l := &sc.Limits
	k := transportKey{protocol: sc.UpstreamProtocol, connectTimeout: sc.ConnectTimeout, idleTimeout: l.IdleTimeout}
	if ka := l.TCPKeepalive; ka != nil {
		k.keepalive = keepaliveKey{set: true, probes: ka.Probes, time: ka.Time, interval: ka.Interval}
	}
	if l.MaxConnections > 0 || l.MaxRequestsPerConnection > 0 || l.MaxConnectionDuration > 0 {
		k.cluster = sc.Name
	}
	if sc.TLS != nil {
		k.cluster, k.tls, k.autoSNI = sc.Name, true, sc.TLS.AutoSNI
	}
	return k
}

// host returns the host of a cluster's endpoint, reusing the one from the
// previous snapshot when its weight is unchanged. Pickers read Weight
// without synchronisation, so a changed weight means a new Host (and, as
// outlier state is keyed by Host, a fresh detector state for it).
func (r *Registry) host(cluster, address string, weight uint32) *lb.Host {
	k := hostKey{cluster, address}
	if weight == 0 {
		weight = 1
	}
	if h, ok := r.hosts[k]; ok && h.Weight == weight {
		return h
	}
	h := lb.NewHost(address, weight)
	r.hosts[k] = h
	return h
}

// state returns the cross-snapshot state of the named cluster.
func (r *Registry) state(name string) *clusterState {
	st := r.clusters[name]
	if st == nil {
		st = &clusterState{breaker: newBreaker()}
		r.clusters[name] = st
	}
	return st
}

func (r *Registry) transport(k transportKey) pooledTransport {
	if t, ok := r.transports[k]; ok {
		return t
	}
	// The dialers are made here, under the registry's lock (they take
	// the cluster's state); transports made later for another SNI share
	// them, and with them the cluster's connection accounting.
	dial := r.dialer(k)
	var t pooledTransport
	if k.tls {
		dialTLS := r.tlsDialer(k, dial)
		tt := &tlsTransport{auto: k.autoSNI, make: func() *http.Transport { return newHTTPTransport(k, dial, dialTLS) }}
		if !k.autoSNI {
			tt.one = newHTTPTransport(k, dial, dialTLS)
		}
		t = tt
	} else {
		t = newHTTPTransport(k, dial, nil)
	}
	r.transports[k] = t
	return t
}

// dialFunc opens a connection to an endpoint.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// newHTTPTransport makes a net/http transport (one connection pool) for
// k, dialing with dial, and with dialTLS for a TLS cluster.
func newHTTPTransport(k transportKey, dial, dialTLS dialFunc) *http.Transport {
	t := &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        0, // no global cap; bounded per host below
		MaxIdleConnsPerHost: maxIdlePerHost,
		// translate fills Istio's default (1h); zero is "no idle
		// timeout" (idleTimeout: 0s), which is also the transport's.
		IdleConnTimeout: k.idleTimeout,
		// The gateway forwards what the client sent; it must not add
		// Accept-Encoding and transparently decompress.
		DisableCompression:    true,
		ResponseHeaderTimeout: 0, // route timeouts govern, not the transport
		ExpectContinueTimeout: time.Second,
	}
	t.Protocols = new(http.Protocols)
	switch {
	case k.tls:
		// "https" requests go through the TLS dialer; ALPN decides
		// between HTTP/2 and HTTP/1.1 as the cluster offers one of them.
		t.DialTLSContext = dialTLS
		t.Protocols.SetHTTP1(k.protocol != snapshot.UpstreamH2C)
		t.Protocols.SetHTTP2(k.protocol == snapshot.UpstreamH2C)
	case k.protocol == snapshot.UpstreamH2C:
		t.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Protocols.SetHTTP1(true)
	}
	return t
}

// Forget drops hosts and cluster state no longer referenced by the given
// set and closes idle connections of transports it no longer uses.
func (r *Registry) Forget(live *Set) {
	r.mu.Lock()
	defer r.mu.Unlock()
	used := make(map[*lb.Host]bool)
	usedT := make(map[transportKey]bool)
	for _, c := range live.clusters {
		for _, h := range c.Hosts {
			used[h] = true
		}
		usedT[c.key] = true
	}
	for k, h := range r.hosts {
		if !used[h] {
			delete(r.hosts, k)
		}
	}
	for name := range r.clusters {
		if live.clusters[name] == nil {
			delete(r.clusters, name)
		}
	}
	for k, t := range r.transports {
		if !usedT[k] {
			t.CloseIdleConnections()
			// A cluster's own transport counts into that cluster's
			// state, which may just have been dropped: never reuse it.
			if k.cluster != "" {
				delete(r.transports, k)
			}
		}
	}
	r.forgetH1(usedT)
}

// Close closes every idle upstream connection.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.transports {
		t.CloseIdleConnections()
	}
	r.closeH1()
}
