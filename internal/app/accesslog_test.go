package app

import (
	"bytes"
	"net/http"
	"regexp"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// The access log in Istio's text format names the route, the cluster
// and the endpoint that answered, and shutdown flushes it.
func TestAccessLogTextThroughGateway(t *testing.T) {
	var log lockedBuffer
	f := startFixtureWith(t, 100, 0, func(o *Options) {
		o.AccessLog = &log
		o.AccessLogOptions = accesslog.Options{Format: accesslog.Text, SamplePercent: 100}
	})
	req, _ := http.NewRequest("GET", f.url+"status?x=1", nil)
	req.Header.Set("User-Agent", "access-log-test")
	req.Header.Set("X-Request-Id", "req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	backend := resp.Header.Get(echo.NameHeader)
	var addr string
	for _, b := range f.backends {
		if b.Name == backend {
			addr = b.Addr()
		}
	}
	f.gateway.Shutdown()

	line := log.String()
	// [start] "GET /status?x=1 HTTP/1.1" 200 - via_upstream - "-" 0 N D UST "XFF" "ua" "id" "authority" "host" cluster - local remote - route
	re := regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /status\?x=1 HTTP/1\.1" 200 - via_upstream - "-" 0 \d+ \d+ \d+ "127\.0\.0\.1" "access-log-test" "req-1" "127\.0\.0\.1:\d+" "` +
		regexp.QuoteMeta(addr) + `" outbound\|80\|v1\|echoserver-service\.default\.svc\.cluster\.local - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - default/echoserver-vs/0\n$`)
	if !re.MatchString(line) {
		t.Errorf("access log line\n%q\ndoes not match Istio's text format for a request answered by %s (%s)", line, backend, addr)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
