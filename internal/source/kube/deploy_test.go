package kube_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/source/kube"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// TestDeployManifests applies deploy/meshgate.yaml to the API server,
// which validates every object, then runs the source with the token of
// the manifests' ServiceAccount: its read-only RBAC must let every
// informer sync, and must not let it write.
func TestDeployManifests(t *testing.T) {
	e := newEnv(t)
	data, err := os.ReadFile("../../../deploy/meshgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(e.config)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(e.config)))
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if obj.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		if _, err := ri.Create(e.ctx, &obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s %s: %v", gvk.Kind, obj.GetName(), err)
		}
		if gvk.Kind == "ClusterRole" || gvk.Kind == "Role" {
			rules, _, _ := unstructured.NestedSlice(obj.Object, "rules")
			for _, r := range rules {
				verbs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "verbs")
				for _, v := range verbs {
					if !slices.Contains([]string{"get", "list", "watch"}, v) {
						t.Errorf("%s %s grants %q; the gateway only reads", gvk.Kind, obj.GetName(), v)
					}
				}
			}
		}
	}

	tok, err := e.kube.CoreV1().ServiceAccounts("istio-ingress").CreateToken(e.ctx, "meshgate",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa := &rest.Config{Host: e.config.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	src, out := runSource(t, kube.Options{
		Clusters:         []kube.Cluster{{ID: kube.DefaultClusterID, Config: sa}},
		GatewayNamespace: "istio-ingress",
		ProbeInterval:    100 * time.Millisecond,
	})
	select {
	case u := <-out:
		if !slices.ContainsFunc(u.Bundle.Services, func(s *resource.Service) bool { return s.Namespace == "istio-ingress" && s.Name == "meshgate" }) {
			t.Error("the gateway's own Service is not in the Bundle")
		}
	case <-time.After(testTimeout):
		t.Fatalf("the informers did not sync with the ServiceAccount's permissions: %q", src.Problems())
	}
	_, err = kubernetes.NewForConfigOrDie(sa).CoreV1().Services(e.ns).Create(e.ctx,
		&corev1.Service{ObjectMeta: e.meta("x", nil), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount could create a Service: %v", err)
	}
}
