package kube_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/translate"
	networkingv1 "istio.io/api/networking/v1"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// runSource runs a source and returns its updates; it stops with the test.
func runSource(t *testing.T, opts kube.Options) (*kube.Source, <-chan pipeline.Update) {
	t.Helper()
	src, err := kube.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan pipeline.Update)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Run did not stop after cancel")
		}
	})
	return src, out
}

// await reads updates until one satisfies ok, and returns it with the
// number of updates read.
func await(t *testing.T, out <-chan pipeline.Update, what string, ok func(*resource.Bundle) bool) (*resource.Bundle, int) {
	t.Helper()
	deadline := time.After(testTimeout)
	for n := 1; ; n++ {
		select {
		case u := <-out:
			if ok(u.Bundle) {
				return u.Bundle, n
			}
		case <-deadline:
			t.Fatalf("timed out waiting for an update with %s", what)
		}
	}
}

func (e *env) options(cfg *rest.Config) kube.Options {
	return kube.Options{
		Clusters:         []kube.Cluster{{ID: "test", Config: cfg}},
		Namespaces:       []string{e.ns},
		GatewayNamespace: e.ns,
	}
}

// TestBundle checks what the source decodes, object by object: the Istio
// specs as written, origins naming cluster, namespace and name, the
// Kubernetes objects with their cluster, only the scoped Namespace, and
// only the Secrets Gateways name as credentials.
func TestBundle(t *testing.T) {
	e := newEnv(t)
	node := e.node("n1", "r", "z")
	e.must(e.istio.NetworkingV1().Gateways(e.ns).Create(e.ctx, &clientnetworking.Gateway{
		ObjectMeta: e.meta("gw", nil),
		Spec: networkingv1.Gateway{Servers: []*networkingv1.Server{{
			Port:  &networkingv1.Port{Number: 443, Name: "https", Protocol: "HTTPS"},
			Hosts: []string{"*"},
			Tls:   &networkingv1.ServerTLSSettings{Mode: networkingv1.ServerTLSSettings_SIMPLE, CredentialName: "cred"},
		}}},
	}, metav1.CreateOptions{}))
	e.route("vs", "gw", "echo")
	e.subsets("echo")
	e.must(e.istio.NetworkingV1().ServiceEntries(e.ns).Create(e.ctx, &clientnetworking.ServiceEntry{
		ObjectMeta: e.meta("se", nil),
		Spec:       networkingv1.ServiceEntry{Hosts: []string{"ext.example.com"}, Ports: []*networkingv1.ServicePort{{Number: 80, Name: "http", Protocol: "HTTP"}}},
	}, metav1.CreateOptions{}))
	e.must(e.istio.NetworkingV1().WorkloadEntries(e.ns).Create(e.ctx, &clientnetworking.WorkloadEntry{
		ObjectMeta: e.meta("we", nil),
		Spec:       networkingv1.WorkloadEntry{Address: "10.1.2.3", Labels: map[string]string{"app": "vm"}},
	}, metav1.CreateOptions{}))
	e.service("echo", map[string]string{"app": "echo"}, nil)
	b := e.backend("pod-1", map[string]string{"app": "echo"}, node)
	e.slice("echo-1", "echo", ready(b))
	for _, name := range []string{"cred", "cred-cacert", "unrelated"} {
		e.must(e.kube.CoreV1().Secrets(e.ns).Create(e.ctx, &corev1.Secret{
			ObjectMeta: e.meta(name, nil), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": []byte(name), "tls.key": []byte("k")},
		}, metav1.CreateOptions{}))
	}

	_, out := runSource(t, e.options(e.config))
	bundle, _ := await(t, out, "every object", func(b *resource.Bundle) bool {
		return len(b.Gateways) == 1 && len(b.EndpointSlices) == 1 && len(b.Pods) == 1 && len(b.Secrets) == 2
	})

	origin := func(name string) string { return "kube:test/" + e.ns + "/" + name }
	got := map[string]string{}
	add := func(m resource.Meta) { got[m.Key()] = m.Origin.Source + " " + m.APIVersion }
	for _, o := range bundle.Gateways {
		add(o.Meta)
	}
	for _, o := range bundle.VirtualServices {
		add(o.Meta)
	}
	for _, o := range bundle.DestinationRules {
		add(o.Meta)
	}
	for _, o := range bundle.ServiceEntries {
		add(o.Meta)
	}
	for _, o := range bundle.WorkloadEntries {
		add(o.Meta)
	}
	for _, o := range bundle.Services {
		add(o.Meta)
	}
	for _, o := range bundle.EndpointSlices {
		add(o.Meta)
	}
	for _, o := range bundle.Pods {
		add(o.Meta)
	}
	for _, o := range bundle.Secrets {
		add(o.Meta)
	}
	for _, o := range bundle.Namespaces {
		add(o.Meta)
	}
	for _, o := range bundle.Nodes {
		if o.Name == node {
			add(o.Meta)
		}
	}
	ns := e.ns
	want := map[string]string{
		"Gateway " + ns + "/gw":           origin("gw") + " networking.istio.io/v1",
		"VirtualService " + ns + "/vs":    origin("vs") + " networking.istio.io/v1",
		"DestinationRule " + ns + "/echo": origin("echo") + " networking.istio.io/v1",
		"ServiceEntry " + ns + "/se":      origin("se") + " networking.istio.io/v1",
		"WorkloadEntry " + ns + "/we":     origin("we") + " networking.istio.io/v1",
		"Service " + ns + "/echo":         origin("echo") + " v1",
		"EndpointSlice " + ns + "/echo-1": origin("echo-1") + " discovery.k8s.io/v1",
		"Pod " + ns + "/pod-1":            origin("pod-1") + " v1",
		"Secret " + ns + "/cred":          origin("cred") + " v1",
		"Secret " + ns + "/cred-cacert":   origin("cred-cacert") + " v1",
		"Namespace " + ns:                 "kube:test/" + ns + " v1",
		"Node " + node:                    "kube:test/" + node + " v1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects and origins (-want +got):\n%s", diff)
	}

	if h := bundle.VirtualServices[0].Spec.GetHosts(); !slices.Equal(h, []string{"*"}) {
		t.Errorf("VirtualService hosts = %v", h)
	}
	if s := bundle.Gateways[0].Spec.GetServers()[0].GetTls().GetCredentialName(); s != "cred" {
		t.Errorf("Gateway credentialName = %q", s)
	}
	if p := bundle.Pods[0]; p.NodeName != node || p.ServiceAccount != "echo" || p.Cluster != "test" {
		t.Errorf("Pod = %+v", p)
	}
	if es := bundle.EndpointSlices[0]; es.Cluster != "test" || len(es.Endpoints) != 1 || es.Endpoints[0].Addresses[0] != b.ip.String() {
		t.Errorf("EndpointSlice = %+v", es)
	}
	if s := bundle.Secrets[0]; s.Type != string(corev1.SecretTypeTLS) || string(s.Data["tls.crt"]) != s.Name {
		t.Errorf("Secret %s = type %q, data %q", s.Name, s.Type, s.Data)
	}
}

// TestDebounce makes a burst of changes and checks they arrive as few
// updates, the last one complete, within a second of the burst.
func TestDebounce(t *testing.T) {
	e := newEnv(t)
	e.service("echo", map[string]string{"app": "echo"}, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer })
	_, out := runSource(t, e.options(e.config))
	await(t, out, "the Service", func(b *resource.Bundle) bool { return len(b.Services) == 1 })

	const n = 30
	for i := range n {
		e.must(e.kube.CoreV1().ConfigMaps(e.ns).Create(e.ctx, &corev1.ConfigMap{ObjectMeta: e.meta(fmt.Sprint("ignored-", i), nil)}, metav1.CreateOptions{}))
		e.service(fmt.Sprint("svc-", i), nil, nil)
	}
	last := time.Now()
	_, updates := await(t, out, "every Service", func(b *resource.Bundle) bool { return len(b.Services) == n+1 })
	took := time.Since(last)
	t.Logf("%d changes arrived as %d updates, the last %v after the burst", n, updates, took.Round(time.Millisecond))
	if updates > 5 {
		t.Errorf("%d changes arrived as %d updates, want them coalesced", n, updates)
	}
	if took > time.Second {
		t.Errorf("the last change arrived %v after the burst, want within 1s", took)
	}

	// Changes the gateway does not read (a Service's status, Secrets no
	// Gateway names) cause no update at all.
	svc, err := e.kube.CoreV1().Services(e.ns).Get(e.ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
	e.must(e.kube.CoreV1().Services(e.ns).UpdateStatus(e.ctx, svc, metav1.UpdateOptions{}))
	e.must(e.kube.CoreV1().Secrets(e.ns).Create(e.ctx, &corev1.Secret{ObjectMeta: e.meta("unrelated", nil)}, metav1.CreateOptions{}))
	select {
	case u := <-out:
		t.Errorf("an irrelevant change sent an update with %d Services", len(u.Bundle.Services))
	case <-time.After(1500 * time.Millisecond):
	}
}

// TestNotSynced points a source at an API server that is not there: it is
// not synced, says what it waits for and that the server is unreachable,
// and sends nothing.
func TestNotSynced(t *testing.T) {
	e := newEnv(t)
	cfg := *e.config
	cfg.Host = fmt.Sprintf("https://127.0.0.1:%d", freePort(t))
	opts := e.options(&cfg)
	opts.ProbeInterval = 50 * time.Millisecond
	src, out := runSource(t, opts)
	waitFor(t, 5*time.Second, "the API server to be reported unreachable", func() bool {
		return slices.ContainsFunc(src.Problems(), func(p string) bool { return strings.Contains(p, "unreachable") })
	})
	if src.Synced() {
		t.Error("Synced() = true without an API server")
	}
	problems := strings.Join(src.Problems(), "\n")
	for _, want := range []string{"kube:test: waiting for the first list of ", "endpointslices@" + e.ns, "virtualservices@" + e.ns} {
		if !strings.Contains(problems, want) {
			t.Errorf("Problems() = %q, want it to mention %q", problems, want)
		}
	}
	select {
	case <-out:
		t.Error("an update was sent before the informers synced")
	default:
	}
}

// TestClusters reads two clusters: the configuration from the first,
// Services' endpoints from both, each endpoint tagged with its cluster. A
// Service only the second cluster has is routable too.
func TestClusters(t *testing.T) {
	e := newEnv(t)
	remote, err := e.cp.NewCluster(strings.ReplaceAll(e.ns, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Stop()
	r := &env{t: t, ctx: e.ctx, cp: e.cp, config: remote.Config(), kube: remote.Client(), ns: e.ns}
	r.must(r.kube.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}))

	port := freePort(t)
	e.gateway("gw", uint32(port))
	// /only-remote goes to a Service only the remote cluster has.
	e.must(e.istio.NetworkingV1().VirtualServices(e.ns).Create(e.ctx, &clientnetworking.VirtualService{
		ObjectMeta: e.meta("echo", nil),
		Spec: networkingv1.VirtualService{
			Hosts: []string{"*"}, Gateways: []string{"gw"},
			Http: []*networkingv1.HTTPRoute{
				{
					Match: []*networkingv1.HTTPMatchRequest{{Uri: &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: "/only-remote"}}}},
					Route: []*networkingv1.HTTPRouteDestination{{Destination: &networkingv1.Destination{Host: "only-remote"}}},
				},
				{Route: []*networkingv1.HTTPRouteDestination{{Destination: &networkingv1.Destination{Host: "echo"}}}},
			},
		},
	}, metav1.CreateOptions{}))
	e.service("echo", map[string]string{"app": "echo"}, nil)
	local := e.backend("local", map[string]string{"app": "echo"}, "")
	e.slice("echo-1", "echo", ready(local))
	r.service("echo", map[string]string{"app": "echo"}, nil)
	far := r.backend("remote", map[string]string{"app": "echo"}, "")
	r.slice("echo-1", "echo", ready(far))
	r.service("only-remote", map[string]string{"app": "other"}, nil)
	other := r.backend("remote-other", map[string]string{"app": "other"}, "")
	r.slice("only-remote-1", "only-remote", ready(other))

	gw := e.startGateway(e.config, port, func(o *kube.Options, _ *translate.Identity) {
		o.Clusters = append(o.Clusters, kube.Cluster{ID: "remote", Config: remote.Config()})
	})
	got := map[string]string{}
	for _, ep := range gw.Snapshot().Cluster("outbound|80||echo." + e.ns + ".svc.cluster.local").Endpoints {
		got[ep.Address] = ep.Cluster
	}
	if want := map[string]string{addr(local): "test", addr(far): "remote"}; !cmp.Equal(got, want) {
		t.Errorf("endpoints → clusters = %v, want %v", got, want)
	}
	var c tally
	send(port, 100, &c)
	if c.by["local"] < 30 || c.by["remote"] < 30 || len(c.failures) > 0 {
		t.Errorf("requests = %v, failures %v; want both clusters' endpoints to share them", c.by, c.failures)
	}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/only-remote", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if name := resp.Header.Get(echo.NameHeader); resp.StatusCode != 200 || name != "remote-other" {
		t.Errorf("/only-remote = %d from %q, want 200 from remote-other", resp.StatusCode, name)
	}
}
