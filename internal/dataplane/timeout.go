package dataplane

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// requestTimeout is the time a request has, across all its attempts, to
// get its complete response: the route's timeout (0: none, Istio's
// default), or for a gRPC request its grpc-timeout, capped by the route's
// timeout. Istio sets Envoy's max_grpc_timeout to the route timeout, so a
// grpc-timeout is honoured up to it, and without a route timeout as sent;
// a grpc-timeout of 0 means no deadline.
func requestTimeout(rt *snapshot.Route, r *http.Request, grpc bool) time.Duration {
	limit := rt.Timeout
	if !grpc {
		return limit
	}
	v := r.Header.Get("Grpc-Timeout")
	if v == "" {
		return limit
	}
	d, ok := parseGRPCTimeout(v)
	if !ok {
		return limit
	}
	if d == 0 || (limit > 0 && d > limit) {
		return limit
	}
	return d
}

// parseGRPCTimeout parses the grpc-timeout header: up to eight digits and
// a unit (H, M, S, m, u, n).
func parseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * unit, true
}
