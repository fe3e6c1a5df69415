package metrics

// Source is who the gateway is, as the source_* labels report it.
type Source struct {
	// Workload is the gateway's workload name (its Deployment), e.g.
	// "istio-ingressgateway".
	Workload  string
	Namespace string
	// Principal is the gateway's SPIFFE identity, when it has one.
	Principal         string
	App               string
	Version           string
	CanonicalService  string
	CanonicalRevision string
	// Cluster is the cluster id of the gateway.
	Cluster string
}

// SourceFromLabels derives the source labels the way Istio's stats
// filter derives them from a proxy's metadata: app and version from the
// "app" and "version" labels, the canonical service from
// service.istio.io/canonical-name (else the workload name), the canonical
// revision from service.istio.io/canonical-revision (else "latest").
func SourceFromLabels(workload, namespace, cluster string, labels map[string]string) Source {
	return Source{
		Workload:          workload,
		Namespace:         namespace,
		App:               labels["app"],
		Version:           labels["version"],
		CanonicalService:  first(labels["service.istio.io/canonical-name"], workload),
		CanonicalRevision: first(labels["service.istio.io/canonical-revision"], latest),
		Cluster:           cluster,
	}
}

// values renders the source labels, "unknown" standing in for what is
// not known, as Istio does.
func (s Source) values() [lDestWorkload]string {
	var v [lDestWorkload]string
	v[lReporter] = "source" // a gateway reports as a client proxy (see reporter in docs)
	v[lSourceWorkload] = first(s.Workload, unknown)
	v[lSourceWorkloadNamespace] = first(s.Namespace, unknown)
	v[lSourcePrincipal] = first(s.Principal, unknown)
	v[lSourceApp] = first(s.App, unknown)
	v[lSourceVersion] = first(s.Version, unknown)
	v[lSourceCanonicalService] = first(s.CanonicalService, unknown)
	v[lSourceCanonicalRevision] = first(s.CanonicalRevision, latest)
	v[lSourceCluster] = first(s.Cluster, unknown)
	return v
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
