package dataplane

import (
	"context"
	"errors"
	"net/http"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
)

// reportOutcome tells the cluster's outlier detection how one attempt to h
// ended; call it once per attempt, as soon as the attempt has a response
// or has failed. It is the one place that classifies attempts:
//   - a response counts by its status (5xx and the gateway errors 502,
//     503 and 504 count against the host, anything else resets its runs);
//   - no response because the gateway failed the attempt (connect failure
//     or timeout, reset, request timeout) is a local-origin failure;
//   - no response because the client went away counts for nothing: the
//     upstream did nothing wrong.
func reportOutcome(c *upstream.Cluster, h *lb.Host, req *http.Request, resp *http.Response, err error) {
	switch {
	case err == nil && resp != nil:
		c.Report(h, resp.StatusCode, false)
	case errors.Is(req.Context().Err(), context.Canceled):
	default:
		c.Report(h, 0, true)
	}
}
