package metrics

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
)

// destTable resolves the destination labels of a request from its
// cluster and endpoint. It is built once per snapshot and read without
// locks.
type destTable struct {
	clusters map[string]*clusterDests
	// none is the destination of requests that reached no cluster (no
	// route, a redirect, a direct response): Istio reports every
	// destination label as unknown there, because gateways do not fall
	// back to the Host header (disableHostHeaderFallback is set for the
	// gateway listener class in Istio's telemetry configuration).
	none *dest
}

type clusterDests struct {
	byAddress map[string]*dest
	// noEndpoint is the destination of requests for the cluster that no
	// endpoint served (no healthy upstream): the service is known, the
	// workload is not.
	noEndpoint *dest
	retries    prometheus.Counter
}

// dest is one set of source and destination label values, shared by
// every endpoint that has them, with its metric children.
type dest struct {
	labels [numLabels]string
	mu     sync.Mutex
	// children maps the per-request labels to resolved children. It is
	// copied on write: a new combination is rare, reading is the hot path.
	children atomic.Pointer[map[childKey]*child]
}

// Apply makes snap's clusters and endpoints the ones requests are
// labelled by, and records its version as the configuration generation.
// Call it whenever the data plane applies a snapshot.
func (r *Recorder) Apply(snap *snapshot.Snapshot) {
	if r == nil || snap == nil {
		return
	}
	r.dests.Store(newDestTable(snap, r))
	r.generation.Set(float64(snap.Version))
}

func newDestTable(snap *snapshot.Snapshot, r *Recorder) *destTable {
	prev := r.dests.Load()
	shared := map[[numLabels]string]*dest{}
	// Destinations carry their children across snapshots, so a reload
	// does not send every request through the slow path again.
	if prev != nil {
		shared[prev.none.labels] = prev.none
		for _, c := range prev.clusters {
			shared[c.noEndpoint.labels] = c.noEndpoint
			for _, d := range c.byAddress {
				shared[d.labels] = d
			}
		}
	}
	intern := func(labels [numLabels]string) *dest {
		if d := shared[labels]; d != nil {
			return d
		}
		d := &dest{labels: labels}
		empty := map[childKey]*child{}
		d.children.Store(&empty)
		shared[labels] = d
		return d
	}
	base := r.source
	var none [numLabels]string
	copy(none[:], base[:])
	for i := lDestWorkload; i <= lDestCluster; i++ {
		none[i] = unknown
	}
	none[lDestCanonicalRevision] = latest
	none[lDestPrincipal] = unknown
	t := &destTable{clusters: map[string]*clusterDests{}, none: intern(none)}
	if snap == nil {
		return t
	}
	for _, c := range snap.Clusters {
		svc := none
		svc[lDestService] = first(c.Service, unknown)
		svc[lDestServiceName], svc[lDestServiceNamespace] = serviceName(c.Service)
		cd := &clusterDests{
			byAddress:  make(map[string]*dest, len(c.Endpoints)),
			noEndpoint: intern(svc),
			retries:    r.retries.WithLabelValues(c.Name),
		}
		for i := range c.Endpoints {
			ep := &c.Endpoints[i]
			cd.byAddress[ep.Address] = intern(endpointLabels(svc, ep))
		}
		t.clusters[c.Name] = cd
	}
	return t
}

// serviceName splits a service host into the destination_service_name
// and destination_service_namespace Istio reports: a Kubernetes host
// "name.namespace.svc.<suffix>" gives its name and namespace; any other
// host (a ServiceEntry's) is its own name, in an unknown namespace.
func serviceName(host string) (name, namespace string) {
	if host == "" {
		return unknown, unknown
	}
	parts := strings.SplitN(host, ".", 4)
	if len(parts) >= 3 && parts[2] == "svc" {
		return parts[0], parts[1]
	}
	return host, unknown
}

// endpointLabels fills the workload labels from what the snapshot knows
// of an endpoint: its labels (app, version, canonical service and
// revision, as Istio's peer metadata has them), the object that declared
// it and the cluster it runs in.
func endpointLabels(svc [numLabels]string, ep *snapshot.Endpoint) [numLabels]string {
	l := svc
	kind, ns, name := parseOrigin(ep.Origin)
	if kind == "WorkloadEntry" {
		l[lDestWorkload] = name
	}
	l[lDestWorkloadNamespace] = first(ns, svc[lDestServiceNamespace])
	if l[lDestServiceNamespace] == unknown && ns != "" {
		l[lDestServiceNamespace] = ns
	}
	l[lDestApp] = first(ep.Labels["app"], unknown)
	l[lDestVersion] = first(ep.Labels["version"], unknown)
	l[lDestCanonicalService] = first(ep.Labels["service.istio.io/canonical-name"], ep.Labels["app.kubernetes.io/name"], ep.Labels["app"], unknown)
	l[lDestCanonicalRevision] = first(ep.Labels["service.istio.io/canonical-revision"], ep.Labels["app.kubernetes.io/version"], ep.Labels["version"], latest)
	l[lDestCluster] = first(ep.Cluster, unknown)
	return l
}

// parseOrigin reads an endpoint origin such as "WorkloadEntry ns/name".
func parseOrigin(o string) (kind, namespace, name string) {
	kind, rest, ok := strings.Cut(o, " ")
	if !ok {
		return "", "", ""
	}
	namespace, name, ok = strings.Cut(rest, "/")
	if !ok {
		return kind, "", rest
	}
	return kind, namespace, name
}

// lookup returns the destination of a request that went to cluster and,
// when one was picked, to the endpoint at address.
func (t *destTable) lookup(cluster, address string) *dest {
	c := t.clusters[cluster]
	if c == nil {
		return t.none
	}
	if d := c.byAddress[address]; d != nil {
		return d
	}
	return c.noEndpoint
}
