package h1

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// Options configure a Client. The zero value of each field but Dial is a
// usable default.
type Options struct {
	// Dial opens a connection to addr ("host:port"). It is where TLS,
	// connect timeouts and connection accounting belong. nil dials TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per address; 0
	// selects DefaultMaxIdlePerHost.
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle for longer; 0 keeps idle
	// connections until the server closes them.
	IdleTimeout time.Duration
	// MaxRequestsPerConn closes a connection after this many requests (the
	// last one is sent with "Connection: close"); 0 is unlimited.
	MaxRequestsPerConn int
	// MaxConnDuration stops reusing a connection this long after it was
	// opened; 0 is unlimited.
	MaxConnDuration time.Duration
	// ExpectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the server's go-ahead before sending its
	// body anyway; 0 selects one second.
	ExpectContinueTimeout time.Duration
	// MaxResponseHeaderBytes bounds the response head; 0 selects 1 MiB
	// (net/http's default).
	MaxResponseHeaderBytes int
}

// DefaultMaxIdlePerHost is the idle-connection bound when none is set.
const DefaultMaxIdlePerHost = 256

// Client is an HTTP/1.1 http.RoundTripper with a connection pool per
// address. It is safe for concurrent use.
type Client struct {
	opts Options

	mu     sync.Mutex
	hosts  map[string]*hostPool
	closed bool
	// sweep closes connections past IdleTimeout; armed while any
	// connection is idle.
	sweep      *time.Timer
	sweepArmed bool
}

// hostPool holds one address's idle connections, most recently used last.
type hostPool struct {
	addr string
	idle []*conn
	// waiters are requests waiting for a connection while one is dialed
	// for them; put hands a freed (or newly dialed) connection to the
	// longest waiting one.
	waiters []chan *conn
}

// New returns a Client with the given options.
func New(opts Options) *Client {
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	if opts.MaxIdlePerHost <= 0 {
		opts.MaxIdlePerHost = DefaultMaxIdlePerHost
	}
	if opts.ExpectContinueTimeout <= 0 {
		opts.ExpectContinueTimeout = time.Second
	}
	if opts.MaxResponseHeaderBytes <= 0 {
		opts.MaxResponseHeaderBytes = 1 << 20
	}
	return &Client{opts: opts, hosts: make(map[string]*hostPool)}
}

// conn is one upstream connection.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader
	addr    string
	created time.Time
	// requests counts the requests sent on the connection.
	requests int
	idleAt   time.Time
	// scratch collects response heads; reused across responses.
	scratch []byte
	// interrupt fails the connection's pending reads and writes: what a
	// cancelled request context calls. Made once per connection rather
	// than once per request.
	interrupt func()
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

func (c *conn) close() {
	_ = c.nc.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

// get returns an idle connection to addr that may still be used, or nil.
func (cl *Client) get(addr string) *conn {
	now := time.Now()
	var stale []*conn
	var found *conn
	cl.mu.Lock()
	if hp := cl.hosts[addr]; hp != nil {
		for len(hp.idle) > 0 {
			c := hp.idle[len(hp.idle)-1]
			hp.idle[len(hp.idle)-1] = nil
			hp.idle = hp.idle[:len(hp.idle)-1]
			if cl.expired(c, now) {
				stale = append(stale, c)
				continue
			}
			found = c
			break
		}
	}
	cl.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	return found
}

// expired reports whether c has been idle or alive too long to be used.
func (cl *Client) expired(c *conn, now time.Time) bool {
	if t := cl.opts.IdleTimeout; t > 0 && now.Sub(c.idleAt) >= t {
		return true
	}
	if d := cl.opts.MaxConnDuration; d > 0 && now.Sub(c.created) >= d {
		return true
	}
	return false
}

// put returns c to the pool, or closes it when the pool is full, closed,
// or c may not be used again.
func (cl *Client) put(c *conn) {
	now := time.Now()
	c.idleAt = now
	if cl.expired(c, now) || c.br.Buffered() > 0 {
		// Bytes the server sent past the response: the connection's
		// framing is lost.
		c.close()
		return
	}
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		c.close()
		return
	}
	hp := cl.hostLocked(c.addr)
	if len(hp.waiters) > 0 {
		w := hp.waiters[0]
		hp.waiters = hp.waiters[1:]
		// Sent under the lock (w has room for one), so a waiter that
		// gives up finds either itself in the list or the connection.
		w <- c
		cl.mu.Unlock()
		return
	}
	if len(hp.idle) >= cl.opts.MaxIdlePerHost {
		cl.mu.Unlock()
		c.close()
		return
	}
	hp.idle = append(hp.idle, c)
	cl.armSweepLocked()
	cl.mu.Unlock()
}

// armSweepLocked schedules the idle sweep when an idle timeout is set.
// One timer serves every address, instead of one per idle connection.
func (cl *Client) armSweepLocked() {
	if cl.opts.IdleTimeout <= 0 || cl.sweepArmed {
		return
	}
	cl.sweepArmed = true
	if cl.sweep == nil {
		cl.sweep = time.AfterFunc(cl.opts.IdleTimeout, cl.sweepIdle)
	} else {
		cl.sweep.Reset(cl.opts.IdleTimeout)
	}
}

// sweepIdle closes the connections idle for IdleTimeout and re-arms
// itself while some remain.
func (cl *Client) sweepIdle() {
	now := time.Now()
	var stale []*conn
	cl.mu.Lock()
	cl.sweepArmed = false
	remaining := 0
	for addr, hp := range cl.hosts {
		kept := hp.idle[:0]
		for _, c := range hp.idle {
			if cl.expired(c, now) {
				stale = append(stale, c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(hp.idle[len(kept):])
		hp.idle = kept
		remaining += len(kept)
		if len(kept) == 0 && len(hp.waiters) == 0 {
			delete(cl.hosts, addr)
		}
	}
	if remaining > 0 && !cl.closed {
		cl.armSweepLocked()
	}
	cl.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
}

// CloseIdleConnections closes every idle connection; connections in use
// are closed when their requests end, if the client was closed.
func (cl *Client) CloseIdleConnections() {
	cl.mu.Lock()
	var all []*conn
	for addr, hp := range cl.hosts {
		all = append(all, hp.idle...)
		hp.idle = nil
		if len(hp.waiters) == 0 {
			delete(cl.hosts, addr)
		}
	}
	cl.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// Close closes the idle connections and stops pooling: connections in use
// are closed when their requests end.
func (cl *Client) Close() {
	cl.mu.Lock()
	cl.closed = true
	if cl.sweep != nil {
		cl.sweep.Stop()
	}
	cl.mu.Unlock()
	cl.CloseIdleConnections()
}

// IdleConns returns the number of idle connections to addr.
func (cl *Client) IdleConns(addr string) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if hp := cl.hosts[addr]; hp != nil {
		return len(hp.idle)
	}
	return 0
}

func (cl *Client) hostLocked(addr string) *hostPool {
	hp := cl.hosts[addr]
	if hp == nil {
		hp = &hostPool{addr: addr}
		cl.hosts[addr] = hp
	}
	return hp
}

// connect returns an idle connection to addr, or else the first to come
// of a new one and one freed by another request. Waiting only for the
// dial could wait for ever: a dialer that limits connections (Istio's
// maxConnections) waits for one to close, while the connections it
// counts go idle, not closed, when their requests end. So the dial runs
// on its own goroutine and delivers its connection through put, which
// hands it, like any freed connection, to the longest waiting request.
//
// reused reports a connection that has been idle in the pool or carried a
// request before: the server may have closed it meanwhile.
func (cl *Client) connect(ctx context.Context, addr string) (c *conn, reused bool, err error) {
	if c := cl.get(addr); c != nil {
		return c, true, nil
	}
	w := make(chan *conn, 1)
	cl.mu.Lock()
	hp := cl.hostLocked(addr)
	hp.waiters = append(hp.waiters, w)
	cl.mu.Unlock()
	failed := make(chan error, 1)
	go func() {
		c, err := cl.dial(ctx, addr)
		if err != nil {
			failed <- err
			return
		}
		cl.put(c)
	}()
	select {
	case c := <-w:
		return c, c.requests > 0, nil
	case err := <-failed:
		if c := cl.unwait(addr, w); c != nil {
			return c, c.requests > 0, nil
		}
		return nil, false, err
	case <-ctx.Done():
		if c := cl.unwait(addr, w); c != nil {
			cl.put(c)
		}
		return nil, false, ctx.Err()
	}
}

// unwait removes waiter w of addr; if a connection was handed to it
// meanwhile, that connection is returned.
func (cl *Client) unwait(addr string, w chan *conn) *conn {
	cl.mu.Lock()
	if hp := cl.hosts[addr]; hp != nil {
		for i, x := range hp.waiters {
			if x == w {
				hp.waiters = append(hp.waiters[:i:i], hp.waiters[i+1:]...)
				cl.mu.Unlock()
				return nil
			}
		}
	}
	cl.mu.Unlock()
	select {
	case c := <-w:
		return c
	default:
		return nil
	}
}

// dial opens a new connection to addr.
func (cl *Client) dial(ctx context.Context, addr string) (*conn, error) {
	nc, err := cl.opts.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(nc)
	c := &conn{nc: nc, br: br, addr: addr, created: time.Now()}
	c.interrupt = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, nil
}
