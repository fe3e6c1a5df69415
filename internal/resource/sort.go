package resource

import (
	"cmp"
	"slices"
)

// Sort orders every slice of the bundle the way Istio orders
// configuration when it has to pick between conflicting objects: oldest
// creation time first, then by name, then by namespace. Objects without a
// creation time (as read from files) carry the zero time, as in Istio: they
// compare equal to each other on time and sort before timestamped ones.
// The sort is stable.
func (b *Bundle) Sort() {
	sortObjects(b.Gateways, func(o *Gateway) *Meta { return &o.Meta })
	sortObjects(b.VirtualServices, func(o *VirtualService) *Meta { return &o.Meta })
	sortObjects(b.DestinationRules, func(o *DestinationRule) *Meta { return &o.Meta })
	sortObjects(b.ServiceEntries, func(o *ServiceEntry) *Meta { return &o.Meta })
	sortObjects(b.WorkloadEntries, func(o *WorkloadEntry) *Meta { return &o.Meta })
	sortObjects(b.Services, func(o *Service) *Meta { return &o.Meta })
	sortObjects(b.Namespaces, func(o *Namespace) *Meta { return &o.Meta })
	sortObjects(b.Secrets, func(o *Secret) *Meta { return &o.Meta })
	sortObjects(b.EndpointSlices, func(o *EndpointSlice) *Meta { return &o.Meta })
	sortObjects(b.Pods, func(o *Pod) *Meta { return &o.Meta })
	sortObjects(b.Nodes, func(o *Node) *Meta { return &o.Meta })
	sortObjects(b.KubeGateways, func(o *KubeGateway) *Meta { return &o.Meta })
	sortObjects(b.HTTPRoutes, func(o *HTTPRoute) *Meta { return &o.Meta })
	sortObjects(b.GRPCRoutes, func(o *GRPCRoute) *Meta { return &o.Meta })
	sortObjects(b.TLSRoutes, func(o *TLSRoute) *Meta { return &o.Meta })
	sortObjects(b.TCPRoutes, func(o *TCPRoute) *Meta { return &o.Meta })
	sortObjects(b.ReferenceGrants, func(o *ReferenceGrant) *Meta { return &o.Meta })
}

func sortObjects[T any](s []T, meta func(T) *Meta) {
	slices.SortStableFunc(s, func(x, y T) int {
		a, b := meta(x), meta(y)
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Namespace, b.Namespace)
	})
}
