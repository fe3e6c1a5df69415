// Package metrics holds the gateway's Prometheus metrics: Istio's standard
// request metrics, with the names and labels Istio users already have on
// their dashboards, and the gateway's own (meshgate_*) for connections,
// retries, circuit-breaker overflows and configuration. Everything lives
// in a private registry, never the global one, so tests and several
// gateways in one process do not share counters.
//
// The request path calls Recorder.ObserveHTTP once per request. It costs
// two map lookups and a few atomic adds: label values are resolved per
// cluster and endpoint when a snapshot is applied (Apply), and the metric
// children for each combination of status, flags and protocol are cached
// after their first use, so nothing is hashed or allocated per request.
//
// A nil *Recorder is valid and records nothing, so the data plane can call
// it unconditionally.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Istio's standard metric names
// (https://istio.io/latest/docs/reference/config/metrics/).
const (
	RequestsTotal     = "istio_requests_total"
	RequestDurationMs = "istio_request_duration_milliseconds"
	RequestBytes      = "istio_request_bytes"
	ResponseBytes     = "istio_response_bytes"
)

// Buckets are Envoy's default histogram buckets
// (HistogramSettingsImpl::defaultBuckets), which Istio does not override:
// in milliseconds for durations and bytes for sizes, as Istio's
// dashboards expect.
var Buckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Labels are the labels of Istio's standard HTTP metrics, in the order
// Istio's stats filter lists them (istio/proxy istio_stats.cc).
var Labels = []string{
	"reporter",
	"source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version",
	"source_canonical_service", "source_canonical_revision", "source_cluster",
	"destination_workload", "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
	"destination_service", "destination_service_name", "destination_service_namespace",
	"destination_canonical_service", "destination_canonical_revision", "destination_cluster",
	"request_protocol", "response_flags", "connection_security_policy", "response_code", "grpc_response_status",
}

// Positions of the labels in Labels.
const (
	lReporter = iota
	lSourceWorkload
	lSourceWorkloadNamespace
	lSourcePrincipal
	lSourceApp
	lSourceVersion
	lSourceCanonicalService
	lSourceCanonicalRevision
	lSourceCluster
	lDestWorkload
	lDestWorkloadNamespace
	lDestPrincipal
	lDestApp
	lDestVersion
	lDestService
	lDestServiceName
	lDestServiceNamespace
	lDestCanonicalService
	lDestCanonicalRevision
	lDestCluster
	lRequestProtocol
	lResponseFlags
	lConnectionSecurityPolicy
	lResponseCode
	lGRPCResponseStatus
	numLabels
)

// Label values Istio uses when it does not know a value.
const (
	unknown = "unknown"
	latest  = "latest"
)

// Options configure a Recorder.
type Options struct {
	// Source describes the gateway itself: it is the source of every
	// request it forwards.
	Source Source
}

// Recorder records the gateway's metrics.
type Recorder struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requestBytes  *prometheus.HistogramVec
	responseBytes *prometheus.HistogramVec

	retries       *prometheus.CounterVec
	overflows     *prometheus.CounterVec
	connsActive   *prometheus.GaugeVec
	connsTotal    *prometheus.CounterVec
	configUpdates *prometheus.CounterVec
	generation    prometheus.Gauge

	source [lDestWorkload]string
	// dests is the label table of the snapshot in force (Apply).
	dests atomic.Pointer[destTable]
	// mu guards listeners, the per-listener connection children.
	mu        sync.Mutex
	listeners map[string]*listenerConns
}

// New returns a Recorder with its own registry.
func New(opts Options) *Recorder {
	r := &Recorder{reg: prometheus.NewRegistry(), listeners: map[string]*listenerConns{}}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RequestsTotal, Help: "Requests handled by the gateway.",
	}, Labels)
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: RequestDurationMs, Help: "Duration of requests, from the first byte received to the last byte sent, in milliseconds.", Buckets: Buckets,
	}, Labels)
	r.requestBytes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: RequestBytes, Help: "Request body sizes in bytes.", Buckets: Buckets,
	}, Labels)
	r.responseBytes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: ResponseBytes, Help: "Response body sizes in bytes.", Buckets: Buckets,
	}, Labels)
	r.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshgate_upstream_rq_retry_total", Help: "Retries sent to a cluster (Envoy's upstream_rq_retry).",
	}, []string{"cluster"})
	r.overflows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshgate_upstream_rq_overflow_total",
		Help: "Requests refused by a cluster's circuit breakers, by the limit that tripped (Envoy's upstream_cx_overflow, upstream_rq_pending_overflow, upstream_rq_retry_overflow).",
	}, []string{"cluster", "limit"})
	r.connsActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshgate_downstream_cx_active", Help: "Open downstream connections per listener.",
	}, []string{"listener"})
	r.connsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshgate_downstream_cx_total", Help: "Downstream connections accepted per listener.",
	}, []string{"listener"})
	r.configUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshgate_config_updates_total", Help: "Configuration updates processed, by result (applied or rejected).",
	}, []string{"result"})
	r.generation = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meshgate_config_generation", Help: "Version of the configuration snapshot the data plane serves.",
	})
	r.reg.MustRegister(r.requests, r.duration, r.requestBytes, r.responseBytes,
		r.retries, r.overflows, r.connsActive, r.connsTotal, r.configUpdates, r.generation)
	r.source = opts.Source.values()
	r.dests.Store(newDestTable(nil, r))
	return r
}

// Registry returns the Recorder's private registry, for registering
// collectors that read the gateway's state at scrape time.
func (r *Recorder) Registry() *prometheus.Registry { return r.reg }

// Handler serves the registry in the Prometheus text format.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
