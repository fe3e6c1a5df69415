package translate

// Diagnostic codes about route policies (timeouts, retries, faults,
// mirrors, rewrites, header operations, CORS, delegation) and connection
// pools (MG18xx). Like the others they are stable. Errors follow the
// rules of Istio's validating webhook, which would reject the object: the
// route is dropped. Warnings keep the route and say what is ignored.
const (
	// CodeTimeout: a route timeout that is not a whole number of
	// milliseconds of at least 1ms.
	CodeTimeout = "MG1801"
	// CodeRetries: an invalid retries block (negative attempts, a
	// perTryTimeout or backoff under 1ms), or settings next to attempts 0.
	CodeRetries = "MG1802"
	// CodeRetryOn: a retryOn token that is neither an HTTP status code
	// nor a condition meshgate retries on; it is dropped.
	CodeRetryOn = "MG1803"
	// CodeFault: an invalid fault (no delay or abort, a percentage outside
	// [0, 100], an abort status outside [200, 599], an unknown gRPC status,
	// a delay under 1ms, a fault on a redirect route).
	CodeFault = "MG1804"
	// CodeFaultIgnored: a fault part that injects nothing: no percentage
	// (Istio's default is 0%), exponentialDelay, http2Error, an abort
	// without a status.
	CodeFaultIgnored = "MG1805"
	// CodeMirror: a mirror without a host or with a percentage outside
	// [0, 100].
	CodeMirror = "MG1806"
	// CodeRewrite: an invalid rewrite (both uri and uriRegexRewrite, none
	// of its fields, a regular expression or template that does not
	// compile, a rewrite on a redirect route).
	CodeRewrite = "MG1807"
	// CodeHeaders: a header operation with a name that is not a valid
	// HTTP header name.
	CodeHeaders = "MG1808"
	// CodeHeaderIgnored: a header operation that cannot take effect
	// (removing host or a pseudo-header, setting one other than
	// :authority, setting host on a response, a name given twice).
	CodeHeaderIgnored = "MG1809"
	// CodeAuthority: the authority is rewritten in more than one place
	// (rewrite.authority, headers set and add); the message says which
	// wins.
	CodeAuthority = "MG1810"
	// CodeCORS: an invalid corsPolicy (empty or bad origin matcher,
	// unknown method, bad header name, maxAge not in whole seconds).
	CodeCORS = "MG1811"
	// CodePolicyIgnored: a forwarding setting (timeout, retries, mirror,
	// rewrite) on a route that answers itself with a redirect or a
	// direct response, where it has no effect.
	CodePolicyIgnored = "MG1812"
	// CodeDelegateConflict: a delegate route whose matches are not within
	// those of the root route that delegates to it; it is dropped.
	CodeDelegateConflict = "MG1813"
	// CodeConnectionPool: a connectionPool value Istio's validation
	// rejects or that has no effect; the default is used.
	CodeConnectionPool = "MG1814"
	// CodeHeaderValue: a header value with an Envoy %VARIABLE%, which
	// meshgate sends as written.
	CodeHeaderValue = "MG1815"
)
