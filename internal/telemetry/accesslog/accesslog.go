// Package accesslog writes one line per downstream request, with the field
// names Istio's JSON access log uses and Envoy's response flags, so
// existing log queries keep working.
package accesslog

import (
	"context"
	"log/slog"
	"time"
)

// Record is what is known about one finished request.
type Record struct {
	Start           time.Time
	Method          string
	Path            string
	Protocol        string
	Authority       string
	Status          int
	Flags           Flags
	BytesReceived   int64
	BytesSent       int64
	Duration        time.Duration
	UpstreamHost    string
	UpstreamCluster string
	// UpstreamAttempts is how many attempts were sent upstream: 1 plus
	// the retries (Envoy's %UPSTREAM_REQUEST_ATTEMPT_COUNT%).
	UpstreamAttempts        int
	RouteName               string
	DownstreamRemoteAddress string
	XForwardedFor           string
	UserAgent               string
	RequestID               string
}

// Logger writes records. A nil *Logger discards them.
type Logger struct {
	l *slog.Logger
}

// New returns a Logger writing through l (typically a JSON handler).
func New(l *slog.Logger) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{l: l}
}

// Log writes one record.
func (lg *Logger) Log(r *Record) {
	if lg == nil {
		return
	}
	flags := r.Flags.String()
	lg.l.LogAttrs(context.Background(), slog.LevelInfo, "access",
		slog.Time("start_time", r.Start),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.String("protocol", r.Protocol),
		slog.Int("response_code", r.Status),
		slog.String("response_flags", flags),
		slog.Int64("bytes_received", r.BytesReceived),
		slog.Int64("bytes_sent", r.BytesSent),
		slog.Int64("duration", r.Duration.Milliseconds()),
		slog.String("upstream_host", r.UpstreamHost),
		slog.String("upstream_cluster", r.UpstreamCluster),
		slog.Int("upstream_request_attempt_count", r.UpstreamAttempts),
		slog.String("route_name", r.RouteName),
		slog.String("downstream_remote_address", r.DownstreamRemoteAddress),
		slog.String("authority", r.Authority),
		slog.String("x_forwarded_for", r.XForwardedFor),
		slog.String("user_agent", r.UserAgent),
		slog.String("request_id", r.RequestID),
	)
}
