package resource

import (
	"go.yaml.in/yaml/v3"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Kubernetes Gateway API kinds (gateway.networking.k8s.io). The Gateway
// kind shares its name with Istio's; the group tells them apart, and
// KubeGateway is the Gateway API one.
const (
	GatewayAPIGroup    = "gateway.networking.k8s.io"
	KindHTTPRoute      = "HTTPRoute"
	KindGRPCRoute      = "GRPCRoute"
	KindReferenceGrant = "ReferenceGrant"
	KindTLSRoute       = "TLSRoute"
	KindTCPRoute       = "TCPRoute"
)

// KubeGateway is a Gateway API Gateway.
type KubeGateway struct {
	Meta
	Spec *gatewayv1.GatewaySpec
}

// HTTPRoute is a Gateway API HTTPRoute.
type HTTPRoute struct {
	Meta
	Spec *gatewayv1.HTTPRouteSpec
}

// GRPCRoute is a Gateway API GRPCRoute.
type GRPCRoute struct {
	Meta
	Spec *gatewayv1.GRPCRouteSpec
}

// TLSRoute is a Gateway API TLSRoute: TLS connections routed by SNI.
type TLSRoute struct {
	Meta
	Spec *gatewayv1.TLSRouteSpec
}

// TCPRoute is a Gateway API TCPRoute: TCP connections of a listener.
type TCPRoute struct {
	Meta
	Spec *gatewayv1.TCPRouteSpec
}

// ReferenceGrant is a Gateway API ReferenceGrant: it lets objects of other
// namespaces refer to objects of its own.
type ReferenceGrant struct {
	Meta
	Spec *gatewayv1.ReferenceGrantSpec
}

// gatewayAPIKinds are the Gateway API kinds the gateway reads, by kind.
// The served versions share one schema each, so every version decodes
// into the v1 types.
var gatewayAPIKinds = map[string]kindInfo{
	KindGateway: {group: GatewayAPIGroup, versions: []string{"v1", "v1beta1"}, specRequired: true,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.GatewaySpec{}
			if d.decodeKube(spec, s) {
				b.KubeGateways = append(b.KubeGateways, &KubeGateway{Meta: d.meta, Spec: s})
			}
		}},
	KindHTTPRoute: {group: GatewayAPIGroup, versions: []string{"v1", "v1beta1"},
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.HTTPRouteSpec{}
			if d.decodeKube(spec, s) {
				b.HTTPRoutes = append(b.HTTPRoutes, &HTTPRoute{Meta: d.meta, Spec: s})
			}
		}},
	KindGRPCRoute: {group: GatewayAPIGroup, versions: []string{"v1"},
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.GRPCRouteSpec{}
			if d.decodeKube(spec, s) {
				b.GRPCRoutes = append(b.GRPCRoutes, &GRPCRoute{Meta: d.meta, Spec: s})
			}
		}},
	KindTLSRoute: {group: GatewayAPIGroup, versions: []string{"v1"},
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.TLSRouteSpec{}
			if d.decodeKube(spec, s) {
				b.TLSRoutes = append(b.TLSRoutes, &TLSRoute{Meta: d.meta, Spec: s})
			}
		}},
	KindTCPRoute: {group: GatewayAPIGroup, versions: []string{"v1"},
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.TCPRouteSpec{}
			if d.decodeKube(spec, s) {
				b.TCPRoutes = append(b.TCPRoutes, &TCPRoute{Meta: d.meta, Spec: s})
			}
		}},
	KindReferenceGrant: {group: GatewayAPIGroup, versions: []string{"v1", "v1beta1"}, specRequired: true,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &gatewayv1.ReferenceGrantSpec{}
			if d.decodeKube(spec, s) {
				b.ReferenceGrants = append(b.ReferenceGrants, &ReferenceGrant{Meta: d.meta, Spec: s})
			}
		}},
}

// lookupKind finds how to decode kind of group: the Istio and core kinds
// first, then the Gateway API ones.
func lookupKind(group, kind string) (kindInfo, bool) {
	if info, ok := kinds[kind]; ok && info.group == group {
		return info, true
	}
	if info, ok := gatewayAPIKinds[kind]; ok && info.group == group {
		return info, true
	}
	return kindInfo{}, false
}
