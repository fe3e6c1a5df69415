package kube_test

import (
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/gatewayapi"
	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/translate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// TestGatewayAPI serves a Gateway API Gateway and an HTTPRoute splitting
// 80/20 between two Services, read from the API server, then moves the
// split by editing the HTTPRoute.
func TestGatewayAPI(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	gc := gatewayclient.NewForConfigOrDie(e.config)
	from := gatewayv1.NamespacesFromSame
	e.must(gc.GatewayV1().Gateways(e.ns).Create(e.ctx, &gatewayv1.Gateway{
		ObjectMeta: e.meta("web", nil),
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "istio",
			Listeners: []gatewayv1.Listener{{
				Name: "http", Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}},
			}},
		},
	}, metav1.CreateOptions{}))
	backend := func(name string, weight int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr(gatewayv1.PortNumber(80))},
			Weight:                 ptr(weight),
		}}
	}
	e.must(gc.GatewayV1().HTTPRoutes(e.ns).Create(e.ctx, &gatewayv1.HTTPRoute{
		ObjectMeta: e.meta("split", nil),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}},
			Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{backend("v1", 80), backend("v2", 20)}}},
		},
	}, metav1.CreateOptions{}))
	for _, v := range []string{"v1", "v2"} {
		labels := map[string]string{"app": v}
		e.service(v, labels, nil)
		e.slice(v+"-1", v, ready(e.backend(v+"-a", labels, "")))
	}

	gw := e.startGateway(e.config, port, func(_ *kube.Options, id *translate.Identity) {
		id.Labels = map[string]string{gatewayapi.LabelGatewayName: "web"}
	})
	var c tally
	send(port, 1000, &c)
	if len(c.failures) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(c.failures), c.failures[0])
	}
	// 1,000 requests put ±4 pp at 3σ of the binomial spread.
	if v2 := c.share("v2-"); v2 < 0.16 || v2 > 0.24 {
		t.Errorf("v2 share = %.1f%%, want 20%% ± 4", 100*v2)
	}
	t.Logf("split: %v", c.by)

	// Everything to v2.
	route, err := gc.GatewayV1().HTTPRoutes(e.ns).Get(e.ctx, "split", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	route.Spec.Rules[0].BackendRefs = []gatewayv1.HTTPBackendRef{backend("v1", 0), backend("v2", 1)}
	e.must(gc.GatewayV1().HTTPRoutes(e.ns).Update(e.ctx, route, metav1.UpdateOptions{}))
	waitFor(t, 5*time.Second, "the new split", func() bool {
		name, code, err := get(port)
		return err == nil && code == 200 && name == "v2-a" && gw.Snapshot() != nil && clusterEndpoints(gw.Snapshot(), "v1."+e.ns+".svc.cluster.local") == -1
	})
	var after tally
	send(port, 100, &after)
	if len(after.failures) > 0 || after.by["v2-a"] != 100 {
		t.Errorf("after moving everything to v2: answers %v, failures %v", after.by, after.failures)
	}
}
