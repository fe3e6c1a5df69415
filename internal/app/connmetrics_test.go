package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// scrapeValue returns the value of the series name{labels} on the admin
// server's /stats/prometheus, or -1 when it is absent.
func scrapeValue(t *testing.T, admin, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/stats/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Downstream connections show on /stats/prometheus while open and in
// the total after they close.
func TestDownstreamConnectionMetrics(t *testing.T) {
	f := startFixture(t, 100, 0)
	_, port, _ := net.SplitHostPort(f.url[len("http://") : len(f.url)-1])
	active := fmt.Sprintf(`meshgate_downstream_cx_active{listener="0.0.0.0_%s"}`, port)
	total := fmt.Sprintf(`meshgate_downstream_cx_total{listener="0.0.0.0_%s"}`, port)
	admin := f.gateway.AdminAddr()

	// Three clients, each on its own kept-alive connection.
	var clients []*http.Client
	for range 3 {
		c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
		resp, err := c.Get(f.url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		clients = append(clients, c)
	}
	// A connection that sends nothing counts too.
	raw, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return scrapeValue(t, admin, active) == 4 }, active+" to reach 4")
	if got := scrapeValue(t, admin, total); got != 4 {
		t.Errorf("%s = %v, want 4", total, got)
	}

	raw.Close()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	waitFor(t, func() bool { return scrapeValue(t, admin, active) == 0 }, active+" to return to 0 after the clients left")
	if got := scrapeValue(t, admin, total); got != 4 {
		t.Errorf("%s = %v after close, want 4", total, got)
	}
}
