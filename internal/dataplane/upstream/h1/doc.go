// Package h1 is the gateway's upstream HTTP/1.1 client: a connection pool
// per endpoint address and a round trip that runs entirely on the calling
// goroutine.
//
// net/http's Transport gives every connection a reader and a writer
// goroutine and hands each request and response between them over
// channels; for a proxy, whose request goroutine only waits meanwhile,
// those hand-offs and the scheduling they cause are most of the cost of
// an upstream exchange. Here the goroutine that asks writes the request
// head straight from the request's header map into a pooled buffered
// writer, sends the body, and parses the response from the connection's
// buffered reader; the body it returns reads from that same reader and
// gives the connection back to the pool when it reaches its end.
//
// What it implements of HTTP/1.1 (RFC 9112): content-length and chunked
// bodies both ways (with trailers), responses delimited by the close of
// the connection, 1xx interim responses (100-continue is honoured with a
// one-second wait, as net/http does), the no-body rules of HEAD, 1xx, 204
// and 304, and 101 Switching Protocols, whose body is the connection
// itself for the caller to relay. A connection is reused only when its
// response body was read to the end and neither side asked to close it.
// A request that failed on a reused connection before any response byte
// arrived is retried on another one when it can be replayed, because the
// server may have closed that idle connection just as it was taken (the
// same rule as net/http).
//
// Connections come from a dial function the caller supplies, so TLS,
// connection limits and accounting stay the caller's business.
//
// What it does not do: HTTP/2, proxies, compression, cookies, redirects.
// The request body is sent before the response is read, so an upstream
// that streams its response while it is still reading the request
// (full-duplex HTTP/1.1, which RFC 9112 allows but few servers use) sees
// the whole request first.
package h1
