package listener_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"
)

// TestDrainTellsClientsToLeave: once Drain is called, the listener still
// accepts, HTTP/1 responses carry "Connection: close", and an HTTP/2
// connection gets GOAWAY when its stream finishes, so the client's next
// request opens a new connection (to another gateway, behind a load
// balancer).
func TestDrainTellsClientsToLeave(t *testing.T) {
	h := newHarness(t)
	svc, addrs := gatewayService(t, 80)
	h.apply(plainConfig(svc, startEcho(t, "web-1"), ""))

	h1 := client(addrs[80], clientOptions{})
	h2c := h2cClient(addrs[80])
	type outcome struct {
		status int
		close  bool
		proto  int
		reused bool
	}
	do := func(c *http.Client) outcome {
		t.Helper()
		var reused bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://web.example.com/", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return outcome{resp.StatusCode, resp.Close, resp.ProtoMajor, reused}
	}

	for _, c := range []*http.Client{h1, h2c} {
		if o := do(c); o.status != 200 || o.close {
			t.Fatalf("before the drain: %+v", o)
		}
	}
	if o := do(h2c); !o.reused || o.proto != 2 {
		t.Fatalf("h2c did not reuse its connection before the drain: %+v", o)
	}

	h.mgr.Drain()

	// HTTP/1: the idle connection was closed; the new one (the listener
	// still accepts) is told to close.
	if o := do(h1); o.status != 200 || !o.close {
		t.Errorf("HTTP/1 during the drain: %+v, want 200 with Connection: close", o)
	}
	// HTTP/2: the stream on the old connection completes, then GOAWAY.
	if o := do(h2c); o.status != 200 || !o.reused {
		t.Errorf("first h2c request during the drain: %+v, want 200 on the existing connection", o)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		o := do(h2c)
		if o.status != 200 {
			t.Fatalf("h2c during the drain: %+v", o)
		}
		if !o.reused {
			break // GOAWAY made the client dial again
		}
		if time.Now().After(deadline) {
			t.Fatal("the HTTP/2 connection was never sent GOAWAY")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge to addr.
func h2cClient(addr string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}
