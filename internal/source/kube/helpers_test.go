package kube_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/app"
	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/source/kube/kubetest"
	"github.com/meshgate/meshgate/internal/testport"
	"github.com/meshgate/meshgate/internal/translate"
	networkingv1 "istio.io/api/networking/v1"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// testTimeout bounds every wait; nothing here sleeps for correctness.
const testTimeout = 30 * time.Second

// backendPort is where every test backend listens, on its own pod address.
const backendPort = 8080

// env is one test's corner of the shared cluster: its own namespace, and
// clients for the API server.
type env struct {
	t      *testing.T
	ctx    context.Context
	cp     *kubetest.ControlPlane
	config *rest.Config
	kube   kubernetes.Interface
	istio  istioclient.Interface
	ns     string
}

var nsCounter sync.Map

// newEnv creates a namespace named after the test.
func newEnv(t *testing.T) *env {
	t.Helper()
	cp := kubetest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, cp: cp, config: cp.API.Config()}
	e.kube = kubernetes.NewForConfigOrDie(e.config)
	e.istio = istioclient.NewForConfigOrDie(e.config)
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = name[:50]
	}
	n, _ := nsCounter.LoadOrStore(name, new(int))
	*n.(*int)++
	e.ns = fmt.Sprintf("%s-%d", name, *n.(*int))
	e.must(e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}))
	return e
}

// must fails the test on an error from a (value, error) call.
func (e *env) must(_ any, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: labels}
}

// gateway creates a Gateway serving HTTP for every host on port.
func (e *env) gateway(name string, port uint32) {
	e.t.Helper()
	e.must(e.istio.NetworkingV1().Gateways(e.ns).Create(e.ctx, &clientnetworking.Gateway{
		ObjectMeta: e.meta(name, nil),
		Spec: networkingv1.Gateway{
			Selector: map[string]string{"istio": "ingressgateway"},
			Servers: []*networkingv1.Server{{
				Port:  &networkingv1.Port{Number: port, Name: "http", Protocol: "HTTP"},
				Hosts: []string{"*"},
			}},
		},
	}, metav1.CreateOptions{}))
}

// splitRoute creates VirtualService name routing everything on gateway
// gw to the subsets of host with the given weights.
func (e *env) splitRoute(name, gw, host string, weights map[string]int32) {
	e.t.Helper()
	var dests []*networkingv1.HTTPRouteDestination
	for _, subset := range []string{"v1", "v2", "v3"} {
		if w, ok := weights[subset]; ok {
			dests = append(dests, &networkingv1.HTTPRouteDestination{
				Destination: &networkingv1.Destination{Host: host, Subset: subset}, Weight: w,
			})
		}
	}
	e.must(e.istio.NetworkingV1().VirtualServices(e.ns).Create(e.ctx, &clientnetworking.VirtualService{
		ObjectMeta: e.meta(name, nil),
		Spec: networkingv1.VirtualService{
			Hosts: []string{"*"}, Gateways: []string{gw},
			Http: []*networkingv1.HTTPRoute{{Route: dests}},
		},
	}, metav1.CreateOptions{}))
}

// subsets creates a DestinationRule for host with subsets v1 and v2 on
// the version label.
func (e *env) subsets(host string) {
	e.t.Helper()
	e.must(e.istio.NetworkingV1().DestinationRules(e.ns).Create(e.ctx, &clientnetworking.DestinationRule{
		ObjectMeta: e.meta(host, nil),
		Spec: networkingv1.DestinationRule{
			Host: host,
			Subsets: []*networkingv1.Subset{
				{Name: "v1", Labels: map[string]string{"version": "v1"}},
				{Name: "v2", Labels: map[string]string{"version": "v2"}},
			},
		},
	}, metav1.CreateOptions{}))
}

// service creates a Service on port 80 targeting backendPort.
func (e *env) service(name string, selector map[string]string, edit func(*corev1.Service)) {
	e.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: e.meta(name, nil),
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(backendPort)}},
		},
	}
	if edit != nil {
		edit(svc)
	}
	e.must(e.kube.CoreV1().Services(e.ns).Create(e.ctx, svc, metav1.CreateOptions{}))
}

// node creates a Node in region/zone. Nodes are cluster-wide, so the
// name is prefixed with the test's namespace.
func (e *env) node(name, region, zone string) string {
	e.t.Helper()
	name = e.ns + "-" + name
	e.must(e.kube.CoreV1().Nodes().Create(e.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{"topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": zone},
	}}, metav1.CreateOptions{}))
	return name
}

// backend is a Pod: an echo server on a pod address, and the Pod object.
type backend struct {
	name string
	ip   netip.Addr
	node string
}

// backend starts an echo server called name and creates its Pod, with
// labels, on node (which may be "").
func (e *env) backend(name string, labels map[string]string, node string) backend {
	e.t.Helper()
	ip := kubetest.PodIP()
	srv, err := echo.Start(name, netip.AddrPortFrom(ip, backendPort).String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = srv.Close() })
	e.must(e.kube.CoreV1().Pods(e.ns).Create(e.ctx, &corev1.Pod{
		ObjectMeta: e.meta(name, labels),
		Spec: corev1.PodSpec{
			NodeName:           node,
			ServiceAccountName: "echo",
			Containers:         []corev1.Container{{Name: "echo", Image: "echo"}},
		},
	}, metav1.CreateOptions{}))
	return backend{name: name, ip: ip, node: node}
}

// member is one endpoint of an EndpointSlice as a test writes it.
type member struct {
	b backend
	// ready, terminating as in EndpointConditions; serving follows
	// the kubelet: true while the Pod is ready, terminating or not.
	ready, terminating bool
}

func ready(bs ...backend) []member {
	out := make([]member, len(bs))
	for i, b := range bs {
		out[i] = member{b: b, ready: true}
	}
	return out
}

func (e *env) sliceObject(name, service string, members []member) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  e.meta(name, map[string]string{discoveryv1.LabelServiceName: service}),
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr[int32](backendPort), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for _, m := range members {
		ep := discoveryv1.Endpoint{
			Addresses: []string{m.b.ip.String()},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr(m.ready && !m.terminating), Serving: ptr(m.ready), Terminating: ptr(m.terminating),
			},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: e.ns, Name: m.b.name},
		}
		if m.b.node != "" {
			ep.NodeName = ptr(m.b.node)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

// slice creates an EndpointSlice of service.
func (e *env) slice(name, service string, members []member) {
	e.t.Helper()
	e.must(e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx, e.sliceObject(name, service, members), metav1.CreateOptions{}))
}

// setSlice replaces the endpoints of an EndpointSlice.
func (e *env) setSlice(name, service string, members []member) {
	e.t.Helper()
	cur, err := e.kube.DiscoveryV1().EndpointSlices(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	es := e.sliceObject(name, service, members)
	es.ResourceVersion = cur.ResourceVersion
	e.must(e.kube.DiscoveryV1().EndpointSlices(e.ns).Update(e.ctx, es, metav1.UpdateOptions{}))
}

// testGateway is an in-process gateway reading the test's namespace.
type testGateway struct {
	*app.Gateway
	source *kube.Source
	port   int
	logs   *lockedBuffer
}

// startGateway starts a gateway watching e's namespace through config
// and waits until it is ready. port is the Gateway server port it will
// listen on; identity may adjust the gateway's identity.
func (e *env) startGateway(config *rest.Config, port int, opts func(*kube.Options, *translate.Identity)) *testGateway {
	e.t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ko := kube.Options{
		Clusters:         []kube.Cluster{{ID: "test", Config: config}},
		Namespaces:       []string{e.ns},
		GatewayNamespace: e.ns,
		Logger:           logger,
	}
	id := translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}, Namespace: e.ns, Cluster: "test"}
	if opts != nil {
		opts(&ko, &id)
	}
	src, err := kube.New(ko)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := app.Start(ctx, app.Options{
		Source:          src,
		Identity:        id,
		AdminAddr:       "127.0.0.1:0",
		Logger:          logger,
		ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		gw.Shutdown()
		cancel()
		gw.Wait()
		if e.t.Failed() {
			e.t.Logf("gateway log:\n%s", logs.String())
		}
	})
	wctx, wcancel := context.WithTimeout(e.ctx, testTimeout)
	defer wcancel()
	if err := gw.WaitReady(wctx); err != nil {
		e.t.Fatalf("%v; readiness details %q; diagnostics %v", err, gw.ReadinessDetails(), gw.Diagnostics())
	}
	return &testGateway{Gateway: gw, source: src, port: port, logs: logs}
}

// tally counts which backend answered n requests; failures lists the
// requests that did not get a 200.
type tally struct {
	mu       sync.Mutex
	by       map[string]int
	total    int
	failures []string
}

func (t *tally) add(name string, failure string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by == nil {
		t.by = map[string]int{}
	}
	t.total++
	if failure != "" {
		t.failures = append(t.failures, failure)
		return
	}
	t.by[name]++
}

func (t *tally) share(prefix string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for name, c := range t.by {
		if strings.HasPrefix(name, prefix) {
			n += c
		}
	}
	return float64(n) / float64(max(t.total, 1))
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// get sends one request to the gateway on port and returns the backend
// that answered and the status.
func get(port int) (string, int, error) {
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get(echo.NameHeader), resp.StatusCode, nil
}

// send sends n requests and tallies them.
func send(port, n int, into *tally) {
	for range n {
		name, code, err := get(port)
		switch {
		case err != nil:
			into.add("", err.Error())
		case code != http.StatusOK:
			into.add("", fmt.Sprintf("%d from %q", code, name))
		default:
			into.add(name, "")
		}
	}
}

// waitFor polls cond until it holds and returns how long that took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
	return time.Since(start)
}

// freePort returns a port nothing listens on, for a Gateway server.
func freePort(t *testing.T) int { return testport.Free(t) }

func ptr[T any](v T) *T { return &v }

// lockedBuffer collects logs written from many goroutines.
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
