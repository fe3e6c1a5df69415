package upstream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Circuit breaking (Istio's connectionPool), counted per cluster in this
// gateway as Envoy counts it per cluster per proxy, not per endpoint:
//
//   - MaxRequests bounds the requests in flight to the cluster;
//   - MaxConnections bounds its open upstream connections (the dialer
//     waits for one to close; see connLimiter for Envoy's one exception);
//     for HTTP/1.1, where a connection carries one request at a time, it
//     also bounds the requests on the wire, and the requests beyond it
//     wait as pending;
//   - MaxPendingRequests bounds those waiting requests;
//   - MaxRetries bounds the retries in progress.
//
// A request over MaxRequests or MaxPendingRequests overflows: the caller
// answers 503 with x-envoy-overloaded and flag UO. A retry over MaxRetries
// is not made. Zero means unlimited, which is what Istio configures when
// a field is unset.
//
// Differences from Envoy: a request waiting for a brand-new connection
// to finish its handshake counts here as on the wire, not as pending, so
// a burst into a cold pool overflows one request fewer than Envoy would
// (with a warm pool the counts agree); and pending requests are counted
// for HTTP/1.1 clusters only: an HTTP/2 cluster multiplexes, and Envoy's
// own pending count there only matters while its first connection opens.

// ErrOverflow is returned when a circuit breaker refuses a request.
var ErrOverflow = errors.New("upstream overflow")

// Breaker holds a cluster's circuit-breaker counters. It is kept per
// cluster name across snapshots, so requests admitted under one snapshot
// are still counted under the next.
type Breaker struct {
	requests atomic.Int64
	retries  atomic.Int64
	// mirrors counts mirrored requests in flight to the cluster.
	mirrors atomic.Int64
	// slots are the HTTP/1.1 requests on the wire when MaxConnections
	// applies, with the pending ones queued behind them.
	slots slotPool
	conns connLimiter
	// endRequest gives back a place under MaxRequests; built once so that
	// Admit hands it out without allocating.
	endRequest func()
}

// newBreaker returns a cluster's zeroed counters.
func newBreaker() *Breaker {
	b := &Breaker{}
	b.endRequest = func() { b.requests.Add(-1) }
	return b
}

// BreakerStatus is a snapshot of a cluster's circuit-breaker counters.
type BreakerStatus struct {
	Requests    int64 `json:"activeRequests"`
	Pending     int64 `json:"pendingRequests"`
	Retries     int64 `json:"activeRetries"`
	Connections int64 `json:"connections"`
	Mirrors     int64 `json:"mirrorsInFlight"`
}

// Status returns the current counts.
func (b *Breaker) Status() BreakerStatus {
	return BreakerStatus{
		Requests:    b.requests.Load(),
		Pending:     int64(b.slots.pending()),
		Retries:     b.retries.Load(),
		Connections: b.conns.count(),
		Mirrors:     b.mirrors.Load(),
	}
}

// Admit reserves what one attempt needs before it is sent: a place under
// MaxRequests and, for an HTTP/1.1 request to a cluster with
// MaxConnections, a connection slot, queueing as pending while all are
// busy. It returns the function that gives them back, to call exactly once
// when the attempt ends, or ErrOverflow, or ctx's error when the request
// ended while pending.
func (c *Cluster) Admit(ctx context.Context, http1 bool) (release func(), err error) {
	b, l := c.breaker, &c.Spec.Limits
	if max := int64(l.MaxRequests); max > 0 {
		if b.requests.Add(1) > max {
			b.requests.Add(-1)
			return nil, ErrOverflow
		}
	} else {
		b.requests.Add(1)
	}
	if !http1 || l.MaxConnections == 0 {
		if b.endRequest != nil {
			return b.endRequest, nil
		}
		return func() { b.requests.Add(-1) }, nil
	}
	max := int(l.MaxConnections)
	if err := b.slots.acquire(ctx, max, int(l.MaxPendingRequests)); err != nil {
		b.requests.Add(-1)
		return nil, err
	}
	return func() {
		b.slots.release(int(c.Spec.Limits.MaxConnections))
		b.requests.Add(-1)
	}, nil
}

// AdmitMirror reserves a place for a mirrored request without waiting: a
// mirror never queues, it is dropped when the cluster is saturated, when
// maxInFlight mirrors are already on their way, or when MaxRequests is
// reached.
func (c *Cluster) AdmitMirror(maxInFlight int) (release func(), ok bool) {
	b := c.breaker
	if b.mirrors.Add(1) > int64(maxInFlight) {
		b.mirrors.Add(-1)
		return nil, false
	}
	if max := int64(c.Spec.Limits.MaxRequests); b.requests.Add(1) > max && max > 0 {
		b.requests.Add(-1)
		b.mirrors.Add(-1)
		return nil, false
	}
	return func() {
		b.requests.Add(-1)
		b.mirrors.Add(-1)
	}, true
}

// BeginRetry reserves a place under MaxRetries; false means the retry
// must not be made (Envoy's upstream_rq_retry_overflow). Call EndRetry
// when the retried attempt ends.
func (c *Cluster) BeginRetry() bool {
	b := c.breaker
	max := int64(c.Spec.Limits.MaxRetries)
	if b.retries.Add(1) > max && max > 0 {
		b.retries.Add(-1)
		return false
	}
	return true
}

// EndRetry releases a place reserved by BeginRetry.
func (c *Cluster) EndRetry() { c.breaker.retries.Add(-1) }

// Breaker returns the cluster's circuit-breaker counters.
func (c *Cluster) Breaker() *Breaker { return c.breaker }

// slotPool is a counting semaphore with a bounded FIFO of waiters. The
// limits are passed on every call, so a new snapshot changes them for
// requests already waiting.
type slotPool struct {
	mu      sync.Mutex
	active  int
	waiters []chan struct{}
}

func (p *slotPool) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// acquire takes a slot if fewer than max are taken, else waits in line
// unless maxPending (0: unlimited) are already waiting.
func (p *slotPool) acquire(ctx context.Context, max, maxPending int) error {
	p.mu.Lock()
	if p.active < max {
		p.active++
		p.mu.Unlock()
		return nil
	}
	if maxPending > 0 && len(p.waiters) >= maxPending {
		p.mu.Unlock()
		return ErrOverflow
	}
	ch := make(chan struct{}, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, w := range p.waiters {
			if w == ch {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				p.mu.Unlock()
				return ctx.Err()
			}
		}
		p.mu.Unlock()
		// The slot was handed over just as the wait ended: pass it on.
		p.release(max)
		return ctx.Err()
	}
}

// release frees a slot, handing it straight to the first waiter while
// the limit allows, so a waiter never loses its turn to a newcomer.
func (p *slotPool) release(max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && (max == 0 || p.active <= max) {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- struct{}{}
		return
	}
	p.active--
}

// connLimiter counts a cluster's open connections and makes dials wait
// while the limit is reached. As in Envoy, an endpoint without any
// connection may always open one, even over the limit: otherwise requests
// balanced to it would wait for connections to other endpoints that may
// never close, so the cluster can hold up to one connection per endpoint
// more than the limit.
type connLimiter struct {
	mu     sync.Mutex
	n      int64
	byHost map[string]int64
	closed chan struct{} // closed and replaced whenever a connection closes
}

func (l *connLimiter) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// acquire counts a new connection to addr, waiting while max (0:
// unlimited) are open and addr has one.
func (l *connLimiter) acquire(ctx context.Context, max int64, addr string) error {
	for {
		l.mu.Lock()
		if max == 0 || l.n < max || l.byHost[addr] == 0 {
			l.n++
			if l.byHost == nil {
				l.byHost = map[string]int64{}
			}
			l.byHost[addr]++
			l.mu.Unlock()
			return nil
		}
		if l.closed == nil {
			l.closed = make(chan struct{})
		}
		ch := l.closed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *connLimiter) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byHost[addr]--; l.byHost[addr] <= 0 {
		delete(l.byHost, addr)
	}
	if l.closed != nil {
		close(l.closed)
		l.closed = nil
	}
}

// TryConnection counts an L4 (TCP proxy) connection to addr against the
// cluster's MaxConnections without waiting: ok is false at the limit,
// where Envoy's TCP proxy refuses the connection (flag UO). release must
// be called when the connection closes.
func (c *Cluster) TryConnection(addr string) (release func(), ok bool) {
	max := int64(c.Spec.Limits.MaxConnections)
	l := &c.breaker.conns
	l.mu.Lock()
	if max > 0 && l.n >= max {
		l.mu.Unlock()
		return nil, false
	}
	l.n++
	if l.byHost == nil {
		l.byHost = map[string]int64{}
	}
	l.byHost[addr]++
	l.mu.Unlock()
	return func() { l.release(addr) }, true
}
