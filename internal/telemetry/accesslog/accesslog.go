// Package accesslog writes one line per downstream request (or L4
// connection) in Istio's default access-log formats: Envoy's text format
// as Istio configures it, or Istio's JSON keys, with Envoy's response
// flags, so existing log parsers and queries keep working.
//
// It sits on the request path: a line is formatted by appending into a
// pooled buffer and copied into a buffered writer under a mutex; a
// background goroutine flushes the writer periodically and Close flushes
// what is left. Logging a record allocates nothing.
package accesslog

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
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
	UpstreamAttempts int
	// UpstreamServiceTime is how long the upstream took to answer the
	// last attempt's headers (x-envoy-upstream-service-time); 0 when no
	// upstream answered.
	UpstreamServiceTime time.Duration
	// UpstreamTransportFailureReason says why the connection to the
	// upstream failed below HTTP, such as a refused TLS handshake
	// (Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON%); empty otherwise.
	UpstreamTransportFailureReason string
	RouteName                      string
	DownstreamRemoteAddress        string
	// DownstreamLocalAddress is the gateway's address the client
	// connected to; nil when unknown.
	DownstreamLocalAddress net.Addr
	// RequestedServerName is the TLS SNI the client sent.
	RequestedServerName string
	XForwardedFor       string
	UserAgent           string
	RequestID           string
}

// Format is the shape of a log line.
type Format int

const (
	// Text is Envoy's format string as Istio configures it by default
	// (accessLogEncoding: TEXT).
	Text Format = iota
	// JSON is Istio's default JSON log (accessLogEncoding: JSON).
	JSON
)

// ParseFormat reads "text" or "json" (any case, as Istio's
// accessLogEncoding TEXT and JSON).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("access log format %q: want text or json", s)
}

func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "text"
}

// DefaultFlushInterval is how often buffered lines are written out,
// Envoy's default access-log flush interval.
const DefaultFlushInterval = time.Second

// Options configure a Logger.
type Options struct {
	Format Format
	// SamplePercent is the share of successful requests logged, 0 to
	// 100. Failed requests (a 5xx status or any response flag) are
	// always logged: they are the lines an operator looks for, and
	// there are few of them when all is well.
	SamplePercent float64
	// FlushInterval is how often buffered lines are written; 0 selects
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// BufferSize is the write buffer's size; 0 selects 64 KiB.
	BufferSize int
}

// Logger writes records. A nil *Logger discards them.
type Logger struct {
	format Format
	// sampleAll is set at 100%; otherwise a successful record is kept
	// when a random uint64 falls below threshold.
	sampleAll bool
	threshold uint64

	mu     sync.Mutex
	w      *bufio.Writer
	closed bool

	stop chan struct{}
	done chan struct{}
}

// New returns a Logger writing to w and starts its flushing goroutine;
// Close stops it.
func New(w io.Writer, opts Options) *Logger {
	if w == nil {
		return nil
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 64 << 10
	}
	lg := &Logger{
		format: opts.Format,
		w:      bufio.NewWriterSize(w, opts.BufferSize),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	switch p := opts.SamplePercent; {
	case p >= 100:
		lg.sampleAll = true
	case p > 0:
		lg.threshold = uint64(p / 100 * math.MaxUint64)
	}
	go lg.flushLoop(opts.FlushInterval)
	return lg
}

// Log writes one record, unless sampling leaves it out.
func (lg *Logger) Log(r *Record) {
	if lg == nil || !lg.keep(r) {
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if lg.format == JSON {
		b = appendJSON(b, r)
	} else {
		b = appendText(b, r)
	}
	lg.mu.Lock()
	if !lg.closed {
		// A write error (a full disk) cannot be reported to anyone
		// useful from here; bufio keeps it and later writes are dropped.
		_, _ = lg.w.Write(b)
	}
	lg.mu.Unlock()
	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
}

// keep applies sampling: failures always, successes at the configured
// rate.
func (lg *Logger) keep(r *Record) bool {
	if lg.sampleAll || r.Flags != 0 || r.Status >= 500 {
		return true
	}
	return lg.threshold != 0 && rand.Uint64() < lg.threshold
}

// Flush writes out buffered lines.
func (lg *Logger) Flush() error {
	if lg == nil {
		return nil
	}
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return lg.w.Flush()
}

// Close flushes what is buffered and stops the flushing goroutine. Later
// records are dropped. It may be called more than once.
func (lg *Logger) Close() error {
	if lg == nil {
		return nil
	}
	lg.mu.Lock()
	if lg.closed {
		lg.mu.Unlock()
		return nil
	}
	lg.closed = true
	err := lg.w.Flush()
	lg.mu.Unlock()
	close(lg.stop)
	<-lg.done
	return err
}

func (lg *Logger) flushLoop(every time.Duration) {
	defer close(lg.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-lg.stop:
			return
		case <-t.C:
			lg.mu.Lock()
			if lg.w.Buffered() > 0 {
				_ = lg.w.Flush()
			}
			lg.mu.Unlock()
		}
	}
}

// maxPooled keeps an unusually long line's buffer out of the pool.
const maxPooled = 16 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}
