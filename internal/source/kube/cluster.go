package kube

import (
	"context"
	"maps"
	"reflect"
	"slices"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// cluster holds one cluster's clients and informers.
type cluster struct {
	source *Source
	id     string
	// config is set for the configuration cluster, whose Istio objects,
	// Namespaces and Secrets are read.
	config bool
	client kubernetes.Interface
	health *apiHealth

	kubeFactories  []informers.SharedInformerFactory
	istioFactories []istioinformers.SharedInformerFactory
	// gatewayFactories are the Gateway API informers (gatewayapi.go).
	gatewayFactories []gatewayinformers.SharedInformerFactory
	// informers by the name shown while waiting for a sync.
	informers map[string]cache.SharedIndexInformer
	listers   listers
}

// newCluster creates the clients and registers the informers; they start
// in start.
func newCluster(s *Source, c Cluster, config bool) (*cluster, error) {
	cfg := *c.Config
	if cfg.UserAgent == "" {
		cfg.UserAgent = "meshgate"
	}
	// Informers list once and then watch, so a few requests per second
	// suffice; the defaults (5, burst 10) slow the first sync of a large
	// cluster with many namespaces.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	client, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		return nil, err
	}
	cl := &cluster{
		source:    s,
		id:        c.ID,
		config:    config,
		client:    client,
		health:    newAPIHealth(c.ID, client.Discovery().RESTClient(), s.logger),
		informers: map[string]cache.SharedIndexInformer{},
	}

	namespaces := s.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns), informers.WithTransform(stripObject))
		cl.kubeFactories = append(cl.kubeFactories, f)
		cl.add("services@"+ns, f.Core().V1().Services().Informer(), sameService)
		cl.add("endpointslices@"+ns, f.Discovery().V1().EndpointSlices().Informer(), sameVersion)
		cl.add("pods@"+ns, f.Core().V1().Pods().Informer(), samePod)
		cl.listers.services = append(cl.listers.services, f.Core().V1().Services().Lister())
		cl.listers.slices = append(cl.listers.slices, f.Discovery().V1().EndpointSlices().Lister())
		cl.listers.pods = append(cl.listers.pods, f.Core().V1().Pods().Lister())
	}
	all := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripObject))
	cl.kubeFactories = append(cl.kubeFactories, all)
	cl.add("nodes", all.Core().V1().Nodes().Informer(), sameMeta)
	cl.listers.nodes = all.Core().V1().Nodes().Lister()
	if !config {
		return cl, nil
	}

	cl.add("namespaces", all.Core().V1().Namespaces().Informer(), sameMeta)
	cl.listers.namespaces = all.Core().V1().Namespaces().Lister()
	if s.opts.GatewayNamespace != "" {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithNamespace(s.opts.GatewayNamespace), informers.WithTransform(stripObject))
		cl.kubeFactories = append(cl.kubeFactories, f)
		cl.addSecrets(f.Core().V1().Secrets().Informer())
		cl.listers.secrets = f.Core().V1().Secrets().Lister()
	}
	ic, err := istioclient.NewForConfig(&cfg)
	if err != nil {
		return nil, err
	}
	for _, ns := range namespaces {
		f := istioinformers.NewSharedInformerFactoryWithOptions(ic, 0,
			istioinformers.WithNamespace(ns), istioinformers.WithTransform(stripObject))
		cl.istioFactories = append(cl.istioFactories, f)
		n := f.Networking().V1()
		cl.add("gateways@"+ns, n.Gateways().Informer(), sameVersion)
		cl.add("virtualservices@"+ns, n.VirtualServices().Informer(), sameVersion)
		cl.add("destinationrules@"+ns, n.DestinationRules().Informer(), sameVersion)
		cl.add("serviceentries@"+ns, n.ServiceEntries().Informer(), sameVersion)
		cl.add("workloadentries@"+ns, n.WorkloadEntries().Informer(), sameVersion)
		cl.listers.gateways = append(cl.listers.gateways, n.Gateways().Lister())
		cl.listers.virtualServices = append(cl.listers.virtualServices, n.VirtualServices().Lister())
		cl.listers.destinationRules = append(cl.listers.destinationRules, n.DestinationRules().Lister())
		cl.listers.serviceEntries = append(cl.listers.serviceEntries, n.ServiceEntries().Lister())
		cl.listers.workloadEntries = append(cl.listers.workloadEntries, n.WorkloadEntries().Lister())
	}
	if err := cl.addGatewayAPI(&cfg, namespaces); err != nil {
		return nil, err
	}
	return cl, nil
}

// add registers an informer: its changes notify the source unless same
// says the update changed nothing the gateway reads; its watch errors go
// to the health tracker.
func (c *cluster) add(name string, inf cache.SharedIndexInformer, same func(old, cur any) bool) {
	c.informers[name] = inf
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		c.health.watchError(name, err)
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.source.notify() },
		UpdateFunc: func(old, cur any) {
			if !same(old, cur) {
				c.source.notify()
			}
		},
		DeleteFunc: func(any) { c.source.notify() },
	})
}

// addSecrets registers the Secret informer: only Secrets that Gateways
// reference are worth a rebuild.
func (c *cluster) addSecrets(inf cache.SharedIndexInformer) {
	name := "secrets@" + c.source.opts.GatewayNamespace
	c.informers[name] = inf
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		c.health.watchError(name, err)
	})
	referenced := func(obj any) bool {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		s, ok := obj.(*corev1.Secret)
		names := c.source.secrets.Load()
		return !ok || names == nil || (*names)[s.Name]
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if referenced(obj) {
				c.source.notify()
			}
		},
		UpdateFunc: func(old, cur any) {
			if referenced(cur) && !sameVersion(old, cur) {
				c.source.notify()
			}
		},
		DeleteFunc: func(obj any) {
			if referenced(obj) {
				c.source.notify()
			}
		},
	})
}

func (c *cluster) start(ctx context.Context) {
	for _, f := range c.kubeFactories {
		f.Start(ctx.Done())
	}
	for _, f := range c.istioFactories {
		f.Start(ctx.Done())
	}
	for _, f := range c.gatewayFactories {
		f.Start(ctx.Done())
	}
}

// unsynced names the informers that have not listed yet, sorted.
func (c *cluster) unsynced() []string {
	var out []string
	for name, inf := range c.informers {
		if !inf.HasSynced() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// stripObject drops what the gateway never reads before an object enters
// an informer's cache: managed fields everywhere, and most of a Pod (its
// containers, volumes and statuses) and a Node (its images and
// conditions), which dominate the memory of a large cluster's caches.
func stripObject(obj any) (any, error) {
	if m, ok := obj.(metav1.ObjectMetaAccessor); ok {
		m.GetObjectMeta().SetManagedFields(nil)
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		// Keep what endpoints are built from: node, service account,
		// addresses, readiness and named container ports.
		out := &corev1.Pod{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: o.ObjectMeta,
			Spec:       corev1.PodSpec{NodeName: o.Spec.NodeName, ServiceAccountName: o.Spec.ServiceAccountName},
			Status:     corev1.PodStatus{PodIP: o.Status.PodIP, PodIPs: o.Status.PodIPs},
		}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.PodReady {
				out.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
			}
		}
		for _, c := range o.Spec.Containers {
			var ports []corev1.ContainerPort
			for _, p := range c.Ports {
				if p.Name != "" {
					ports = append(ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
				}
			}
			if len(ports) > 0 {
				out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Ports: ports})
			}
		}
		return out, nil
	case *corev1.Node:
		return &corev1.Node{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta}, nil
	}
	return obj, nil
}

// sameVersion treats every update as a change, except the periodic
// resyncs that repeat an object unchanged.
func sameVersion(old, cur any) bool {
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	return ok1 && ok2 && o.GetResourceVersion() == c.GetResourceVersion()
}

// sameMeta compares what the gateway reads of Nodes and Namespaces: their
// labels and annotations. Kubelets update their Node every few seconds.
func sameMeta(old, cur any) bool {
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	return ok1 && ok2 && maps.Equal(o.GetLabels(), c.GetLabels()) && maps.Equal(o.GetAnnotations(), c.GetAnnotations())
}

// sameService ignores status updates (load balancer addresses).
func sameService(old, cur any) bool {
	o, ok1 := old.(*corev1.Service)
	c, ok2 := cur.(*corev1.Service)
	return ok1 && ok2 && sameMeta(old, cur) && reflect.DeepEqual(o.Spec, c.Spec)
}

// samePod compares what endpoints take from a Pod (stripObject kept
// little else): labels, node, service account, addresses.
func samePod(old, cur any) bool {
	o, ok1 := old.(*corev1.Pod)
	c, ok2 := cur.(*corev1.Pod)
	return ok1 && ok2 && sameMeta(old, cur) && reflect.DeepEqual(o.Spec, c.Spec) && reflect.DeepEqual(o.Status, c.Status)
}
