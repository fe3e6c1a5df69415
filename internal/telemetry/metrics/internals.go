package metrics

// Limit names a circuit breaker of a cluster (Istio connectionPool
// settings) for Overflow.
type Limit string

// Circuit breakers, named after the connectionPool fields that set them.
const (
	LimitConnections     Limit = "max_connections"
	LimitPendingRequests Limit = "http1_max_pending_requests"
	LimitRequests        Limit = "http2_max_requests"
	LimitRetries         Limit = "max_retries"
)

// Retry counts a retry sent to cluster (call it once per attempt after
// the first).
func (r *Recorder) Retry(cluster string) {
	if r == nil {
		return
	}
	if c := r.dests.Load().clusters[cluster]; c != nil {
		c.retries.Inc()
		return
	}
	r.retries.WithLabelValues(cluster).Inc()
}

// Overflow counts a request that a circuit breaker of cluster refused.
func (r *Recorder) Overflow(cluster string, limit Limit) {
	if r == nil {
		return
	}
	r.overflows.WithLabelValues(cluster, string(limit)).Inc()
}

// ConfigUpdate counts a configuration update: applied, or rejected with
// the last good configuration still serving.
func (r *Recorder) ConfigUpdate(applied bool) {
	if r == nil {
		return
	}
	result := "applied"
	if !applied {
		result = "rejected"
	}
	r.configUpdates.WithLabelValues(result).Inc()
}

// listenerConns are the connection children of one listener.
type listenerConns struct {
	active interface {
		Inc()
		Dec()
	}
	total interface{ Inc() }
}

func (r *Recorder) listener(name string) *listenerConns {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.listeners[name]
	if l == nil {
		l = &listenerConns{active: r.connsActive.WithLabelValues(name), total: r.connsTotal.WithLabelValues(name)}
		r.listeners[name] = l
	}
	return l
}

// ConnOpened counts a downstream connection accepted by listener; call
// ConnClosed when it closes.
func (r *Recorder) ConnOpened(listener string) {
	if r == nil {
		return
	}
	l := r.listener(listener)
	l.total.Inc()
	l.active.Inc()
}

// ConnClosed counts the end of a connection ConnOpened counted.
func (r *Recorder) ConnClosed(listener string) {
	if r == nil {
		return
	}
	r.listener(listener).active.Dec()
}
