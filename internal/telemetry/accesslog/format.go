package accesslog

import (
	"net"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Istio's default text format (EnvoyTextLogFormatIstio, the format
// Istio installs for accessLogEncoding: TEXT):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//	"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
//	%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n
//
// (one line). An empty value prints as "-", as Envoy prints it. The
// format has no attempt count; the JSON format carries it.
func appendText(b []byte, r *Record) []byte {
	b = append(b, '[')
	b = appendStartTime(b, r.Start)
	b = append(b, "] \""...)
	b = appendTextValue(b, r.Method)
	b = append(b, ' ')
	b = appendTextValue(b, r.Path)
	b = append(b, ' ')
	b = appendTextValue(b, protocol(r.Protocol))
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = r.Flags.AppendTo(b)
	b = append(b, ' ')
	b = append(b, responseCodeDetails(r)...)
	// %CONNECTION_TERMINATION_DETAILS%: nothing to report.
	b = append(b, " -"...)
	b = appendQuotedText(b, r.UpstreamTransportFailureReason)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BytesReceived, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BytesSent, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Duration.Milliseconds(), 10)
	b = append(b, ' ')
	if r.UpstreamServiceTime > 0 {
		b = strconv.AppendInt(b, r.UpstreamServiceTime.Milliseconds(), 10)
	} else {
		b = append(b, '-')
	}
	b = appendQuotedText(b, r.XForwardedFor)
	b = appendQuotedText(b, r.UserAgent)
	b = appendQuotedText(b, r.RequestID)
	b = appendQuotedText(b, r.Authority)
	b = appendQuotedText(b, r.UpstreamHost)
	b = append(b, ' ')
	b = appendTextValue(b, r.UpstreamCluster)
	// %UPSTREAM_LOCAL_ADDRESS%: the upstream connection's own address is
	// not tracked.
	b = append(b, " - "...)
	b = appendAddr(b, r.DownstreamLocalAddress, '-')
	b = append(b, ' ')
	b = appendTextValue(b, r.DownstreamRemoteAddress)
	b = append(b, ' ')
	b = appendTextValue(b, r.RequestedServerName)
	b = append(b, ' ')
	b = appendTextValue(b, r.RouteName)
	return append(b, '\n')
}

// appendJSON writes Istio's default JSON keys (EnvoyJSONLogFormatIstio)
// plus upstream_request_attempt_count, in the sorted order Envoy prints
// them. Numbers are JSON numbers and absent values null, as in Envoy's
// typed JSON logs.
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"authority":`...)
	b = appendJSONValue(b, r.Authority)
	b = append(b, `,"bytes_received":`...)
	b = strconv.AppendInt(b, r.BytesReceived, 10)
	b = append(b, `,"bytes_sent":`...)
	b = strconv.AppendInt(b, r.BytesSent, 10)
	b = append(b, `,"connection_termination_details":null,"downstream_local_address":`...)
	if r.DownstreamLocalAddress != nil {
		b = append(b, '"')
		b = appendAddr(b, r.DownstreamLocalAddress, 0)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"downstream_remote_address":`...)
	b = appendJSONValue(b, r.DownstreamRemoteAddress)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, r.Duration.Milliseconds(), 10)
	b = append(b, `,"method":`...)
	b = appendJSONValue(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONValue(b, r.Path)
	b = append(b, `,"protocol":`...)
	b = appendJSONValue(b, protocol(r.Protocol))
	b = append(b, `,"request_id":`...)
	b = appendJSONValue(b, r.RequestID)
	b = append(b, `,"requested_server_name":`...)
	b = appendJSONValue(b, r.RequestedServerName)
	b = append(b, `,"response_code":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"response_code_details":"`...)
	b = append(b, responseCodeDetails(r)...)
	b = append(b, `","response_flags":"`...)
	b = r.Flags.AppendTo(b)
	b = append(b, `","route_name":`...)
	b = appendJSONValue(b, r.RouteName)
	b = append(b, `,"start_time":"`...)
	b = appendStartTime(b, r.Start)
	b = append(b, `","upstream_cluster":`...)
	b = appendJSONValue(b, r.UpstreamCluster)
	b = append(b, `,"upstream_host":`...)
	b = appendJSONValue(b, r.UpstreamHost)
	b = append(b, `,"upstream_local_address":null,"upstream_request_attempt_count":`...)
	b = strconv.AppendInt(b, int64(r.UpstreamAttempts), 10)
	b = append(b, `,"upstream_service_time":`...)
	if r.UpstreamServiceTime > 0 {
		// A response header in Envoy's format, so a string.
		b = append(b, '"')
		b = strconv.AppendInt(b, r.UpstreamServiceTime.Milliseconds(), 10)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"upstream_transport_failure_reason":`...)
	b = appendJSONValue(b, r.UpstreamTransportFailureReason)
	b = append(b, `,"user_agent":`...)
	b = appendJSONValue(b, r.UserAgent)
	b = append(b, `,"x_forwarded_for":`...)
	b = appendJSONValue(b, r.XForwardedFor)
	return append(b, "}\n"...)
}

// appendStartTime writes Envoy's default %START_TIME%: UTC with
// milliseconds, e.g. 2020-11-25T21:26:18.409Z.
func appendStartTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}

// protocol names HTTP versions as Envoy's %PROTOCOL% does.
func protocol(p string) string {
	if p == "HTTP/2.0" {
		return "HTTP/2"
	}
	return p
}

// responseCodeDetails is Envoy's %RESPONSE_CODE_DETAILS% for the
// outcomes the gateway produces: why the response code is what it is.
func responseCodeDetails(r *Record) string {
	f := r.Flags
	switch {
	case f&NoRoute != 0:
		return "route_not_found"
	case f&NoClusterFound != 0:
		return "cluster_not_found"
	case f&NoHealthyUpstream != 0:
		return "no_healthy_upstream"
	case f&FaultInjected != 0:
		return "fault_filter_abort"
	case f&UpstreamRequestTimeout != 0:
		return "response_timeout"
	case f&UpstreamOverflow != 0 && r.UpstreamServiceTime == 0:
		return "upstream_reset_before_response_started{overflow}"
	case f&UpstreamConnectionFailure != 0:
		return "upstream_reset_before_response_started{connection_failure}"
	case f&UpstreamRemoteReset != 0:
		return "upstream_reset_before_response_started{remote_refused_stream_reset}"
	case f&UpstreamConnectionTermination != 0 && r.UpstreamServiceTime == 0:
		return "upstream_reset_before_response_started{connection_termination}"
	case f&UpstreamConnectionTermination != 0:
		return "upstream_reset_after_response_started{connection_termination}"
	case f&DownstreamConnectionTermination != 0:
		return "downstream_remote_disconnect"
	case r.UpstreamServiceTime > 0:
		return "via_upstream"
	case r.Status == 0:
		return "-"
	}
	// Answered by the gateway itself: a direct response, a redirect, a
	// CORS preflight.
	return "direct_response"
}

// appendTextValue writes s, or "-" when it is empty. Control characters
// are replaced so that a value can never start a new log line.
func appendTextValue(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '"' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

func appendQuotedText(b []byte, s string) []byte {
	b = append(b, ' ', '"')
	b = appendTextValue(b, s)
	return append(b, '"')
}

// appendAddr writes an address without allocating for TCP addresses
// (IPv4-mapped IPv6 printed as IPv4); empty writes the placeholder
// byte, or nothing when it is 0.
func appendAddr(b []byte, a net.Addr, empty byte) []byte {
	switch a := a.(type) {
	case nil:
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b)
	default:
		return append(b, a.String()...)
	}
	if empty != 0 {
		b = append(b, empty)
	}
	return b
}

// appendJSONValue writes s as a JSON string, or null when it is empty.
func appendJSONValue(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendJSONString(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes s for a JSON string body; invalid UTF-8
// becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
