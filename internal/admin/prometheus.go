package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PrometheusPath is where the admin API serves metrics, as Envoy's admin
// interface and Istio's scrape annotations have it.
const PrometheusPath = "/stats/prometheus"

// PrometheusHandler serves the request and gateway metrics rec records
// together with the state of g read at scrape time: endpoints by health,
// outlier ejections, priority load, active requests and configuration.
// rec may be nil; the state metrics are served regardless.
func PrometheusHandler(g Gateway, rec *metrics.Recorder) http.Handler {
	state := prometheus.NewRegistry()
	state.MustRegister(&stateCollector{g: g})
	gatherers := prometheus.Gatherers{state}
	if rec != nil {
		gatherers = append(gatherers, rec.Registry())
	}
	return promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WithPrometheus adds PrometheusPath to an admin handler such as the one
// Handler returns; every other path goes to h.
func WithPrometheus(h http.Handler, g Gateway, rec *metrics.Recorder) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+PrometheusPath, PrometheusHandler(g, rec))
	mux.Handle("/", h)
	return mux
}

// Descriptions of the state metrics. Envoy exposes the same facts as
// cluster stats (membership_healthy, outlier_detection.ejections_active,
// ...); the names here say what they count without Envoy's stat tree.
var (
	descEndpoints = prometheus.NewDesc("meshgate_cluster_endpoints",
		"Endpoints of a cluster by health for balancing: HEALTHY, UNHEALTHY or DRAINING by their source, EJECTED by outlier detection.",
		[]string{"cluster", "health"}, nil)
	descActive = prometheus.NewDesc("meshgate_cluster_active_requests",
		"Requests in flight to a cluster's endpoints.", []string{"cluster"}, nil)
	descPriorityLoad = prometheus.NewDesc("meshgate_cluster_priority_load_percent",
		"Percent of a cluster's requests a priority level receives, by the health of the hosts that take it.",
		[]string{"cluster", "priority", "health"}, nil)
	descPriorityHosts = prometheus.NewDesc("meshgate_cluster_priority_hosts",
		"Hosts of a priority level.", []string{"cluster", "priority"}, nil)
	descPanic = prometheus.NewDesc("meshgate_cluster_priority_panic",
		"1 when a priority level is in panic mode and balances over all its hosts, healthy or not.",
		[]string{"cluster", "priority"}, nil)
	descEjectionsActive = prometheus.NewDesc("meshgate_cluster_outlier_ejections_active",
		"Endpoints ejected by outlier detection now.", []string{"cluster"}, nil)
	descEjections = prometheus.NewDesc("meshgate_cluster_outlier_ejections_total",
		"Ejections outlier detection enforced (Envoy's ejections_enforced_total).", []string{"cluster"}, nil)
	descEjectionsOverflow = prometheus.NewDesc("meshgate_cluster_outlier_ejections_overflow_total",
		"Ejections refused because maxEjectionPercent was reached (Envoy's ejections_overflow).", []string{"cluster"}, nil)
	descSpilled = prometheus.NewDesc("meshgate_cluster_spillover_requests_total",
		"Requests load-based spillover moved to a later priority.", []string{"cluster"}, nil)
	descVersion = prometheus.NewDesc("meshgate_config_version",
		"Version of the configuration snapshot serving; 0 before the first.", nil, nil)
	descRejected = prometheus.NewDesc("meshgate_config_last_update_rejected",
		"1 when the latest configuration update was rejected and an older one keeps serving.", nil, nil)
	descDiagnostics = prometheus.NewDesc("meshgate_config_diagnostics",
		"Diagnostics of the latest configuration update, by severity.", []string{"severity"}, nil)
	descAppliedAt = prometheus.NewDesc("meshgate_config_applied_timestamp_seconds",
		"When the serving configuration was applied, in seconds since the epoch.", nil, nil)
)

// stateCollector reads the gateway's live state on every scrape. Scrapes
// are rare next to requests, so nothing is kept between them.
type stateCollector struct{ g Gateway }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEndpoints, descActive, descPriorityLoad, descPriorityHosts, descPanic,
		descEjectionsActive, descEjections, descEjectionsOverflow, descSpilled, descVersion, descRejected, descDiagnostics, descAppliedAt} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, cs := range c.g.Clusters() {
		byHealth := map[string]int{"HEALTHY": 0, "UNHEALTHY": 0, "DRAINING": 0, "EJECTED": 0}
		for _, ep := range cs.Endpoints {
			byHealth[ep.Health]++
		}
		for h, n := range byHealth {
			gauge(descEndpoints, float64(n), cs.Name, h)
		}
		gauge(descActive, float64(cs.ActiveRequests), cs.Name)
		for _, p := range cs.Priorities.Levels {
			prio := strconv.Itoa(p.Priority)
			gauge(descPriorityLoad, float64(p.HealthyLoad), cs.Name, prio, "healthy")
			gauge(descPriorityLoad, float64(p.DegradedLoad), cs.Name, prio, "degraded")
			gauge(descPriorityHosts, float64(p.Hosts), cs.Name, prio)
			panicking := 0.0
			if p.Panic {
				panicking = 1
			}
			gauge(descPanic, panicking, cs.Name, prio)
		}
		if o := cs.Outlier; o != nil {
			gauge(descEjectionsActive, float64(o.Stats.EjectionsActive), cs.Name)
			counter(descEjections, float64(o.Stats.EjectionsTotal), cs.Name)
			counter(descEjectionsOverflow, float64(o.Stats.EjectionsOverflow), cs.Name)
		}
		if s := cs.Spillover; s != nil {
			counter(descSpilled, float64(s.Spilled), cs.Name)
		}
	}
	st := c.g.Status()
	gauge(descVersion, float64(st.Version))
	rejected := 0.0
	if st.Rejected {
		rejected = 1
	}
	gauge(descRejected, rejected)
	var errs, warns int
	for _, d := range st.Diagnostics {
		if d.Severity == diag.Error {
			errs++
		} else {
			warns++
		}
	}
	gauge(descDiagnostics, float64(errs), "error")
	gauge(descDiagnostics, float64(warns), "warning")
	if !st.AppliedAt.IsZero() {
		gauge(descAppliedAt, float64(st.AppliedAt.UnixNano())/float64(time.Second))
	}
}
