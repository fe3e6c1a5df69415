package kube

import (
	"github.com/meshgate/meshgate/internal/resource"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"
)

// gatewayAPIVersion is the Gateway API version read; every kind is served
// at v1 by the standard channel CRDs.
const gatewayAPIVersion = resource.GatewayAPIGroup + "/v1"

// gatewayAPIListers read the Gateway API objects, one lister per watched
// namespace.
type gatewayAPIListers struct {
	gateways        []gatewaylisters.GatewayLister
	httpRoutes      []gatewaylisters.HTTPRouteLister
	grpcRoutes      []gatewaylisters.GRPCRouteLister
	tlsRoutes       []gatewaylisters.TLSRouteLister
	tcpRoutes       []gatewaylisters.TCPRouteLister
	referenceGrants []gatewaylisters.ReferenceGrantLister
}

// addGatewayAPI registers informers for the Gateway API kinds when the
// cluster serves them. Without the CRDs there is nothing to read, and an
// informer for them would never sync and keep the gateway unready, so the
// API is looked up first. When the lookup itself fails (the API server is
// unreachable), the informers are registered all the same: readiness then
// waits for them rather than silently ignoring the Gateway API.
func (cl *cluster) addGatewayAPI(cfg *rest.Config, namespaces []string) error {
	if _, err := cl.client.Discovery().ServerResourcesForGroupVersion(gatewayAPIVersion); err != nil {
		if apierrors.IsNotFound(err) {
			cl.source.logger.Info("the cluster does not serve the Gateway API; its kinds are not watched", "cluster", cl.id)
			return nil
		}
		cl.source.logger.Warn("cannot tell whether the cluster serves the Gateway API; watching it", "cluster", cl.id, "error", err)
	}
	gc, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range namespaces {
		f := gatewayinformers.NewSharedInformerFactoryWithOptions(gc, 0,
			gatewayinformers.WithNamespace(ns), gatewayinformers.WithTransform(stripObject))
		cl.gatewayFactories = append(cl.gatewayFactories, f)
		g := f.Gateway().V1()
		cl.add("gateways.gateway.networking.k8s.io@"+ns, g.Gateways().Informer(), sameVersion)
		cl.add("httproutes@"+ns, g.HTTPRoutes().Informer(), sameVersion)
		cl.add("grpcroutes@"+ns, g.GRPCRoutes().Informer(), sameVersion)
		cl.add("tlsroutes@"+ns, g.TLSRoutes().Informer(), sameVersion)
		cl.add("tcproutes@"+ns, g.TCPRoutes().Informer(), sameVersion)
		cl.add("referencegrants@"+ns, g.ReferenceGrants().Informer(), sameVersion)
		l := &cl.listers.gatewayAPI
		l.gateways = append(l.gateways, g.Gateways().Lister())
		l.httpRoutes = append(l.httpRoutes, g.HTTPRoutes().Lister())
		l.grpcRoutes = append(l.grpcRoutes, g.GRPCRoutes().Lister())
		l.tlsRoutes = append(l.tlsRoutes, g.TLSRoutes().Lister())
		l.tcpRoutes = append(l.tcpRoutes, g.TCPRoutes().Lister())
		l.referenceGrants = append(l.referenceGrants, g.ReferenceGrants().Lister())
	}
	return nil
}

// addGatewayAPIConfig adds the Gateway API objects to a Bundle.
func (c *cluster) addGatewayAPIConfig(b *resource.Bundle) {
	l := &c.listers.gatewayAPI
	for _, o := range list(l.gateways) {
		b.KubeGateways = append(b.KubeGateways, &resource.KubeGateway{Meta: c.meta(resource.KindGateway, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.httpRoutes) {
		b.HTTPRoutes = append(b.HTTPRoutes, &resource.HTTPRoute{Meta: c.meta(resource.KindHTTPRoute, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.grpcRoutes) {
		b.GRPCRoutes = append(b.GRPCRoutes, &resource.GRPCRoute{Meta: c.meta(resource.KindGRPCRoute, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.tlsRoutes) {
		b.TLSRoutes = append(b.TLSRoutes, &resource.TLSRoute{Meta: c.meta(resource.KindTLSRoute, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.tcpRoutes) {
		b.TCPRoutes = append(b.TCPRoutes, &resource.TCPRoute{Meta: c.meta(resource.KindTCPRoute, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
	for _, o := range list(l.referenceGrants) {
		b.ReferenceGrants = append(b.ReferenceGrants, &resource.ReferenceGrant{Meta: c.meta(resource.KindReferenceGrant, gatewayAPIVersion, &o.ObjectMeta), Spec: &o.Spec})
	}
}

// gatewayAPISecrets names the Secrets Gateway API listeners use as
// certificates (in the Gateway's namespace).
func gatewayAPISecrets(b *resource.Bundle, add func(string)) {
	for _, gw := range b.KubeGateways {
		for _, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				if ref.Namespace == nil || string(*ref.Namespace) == gw.Namespace {
					add(string(ref.Name))
				}
			}
		}
	}
}
