package translate

import (
	"cmp"
	"slices"

	"github.com/meshgate/meshgate/internal/resource"
)

// spiffeID names a workload identity in the mesh's trust domain, as Istio
// issues it: "spiffe://<trust domain>/ns/<namespace>/sa/<service account>".
// An empty service account names no identity.
func (b *builder) spiffeID(namespace, serviceAccount string) string {
	if serviceAccount == "" {
		return ""
	}
	return "spiffe://" + b.id.TrustDomain + "/ns/" + namespace + "/sa/" + serviceAccount
}

// podIdentity is the identity of a Pod: its service account, "default"
// when the Pod names none, as Kubernetes assigns it.
func (b *builder) podIdentity(pod *resource.Pod) string {
	if pod == nil {
		return ""
	}
	return b.spiffeID(pod.Namespace, cmp.Or(pod.ServiceAccount, "default"))
}

// serviceIdentities are the identities a service's endpoints may present:
// a ServiceEntry's subjectAltNames when it lists them, else the known
// identities of all the service's endpoints (Istio's service accounts of
// a service), sorted.
func serviceIdentities(svc *service) []string {
	if len(svc.subjectAltNames) > 0 {
		return slices.Clone(svc.subjectAltNames)
	}
	var out []string
	for _, ep := range svc.endpoints {
		if ep.identity != "" {
			out = append(out, ep.identity)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
