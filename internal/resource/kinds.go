package resource

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
)

// kindInfo says how to decode one kind the gateway uses.
type kindInfo struct {
	group    string // "" is the Kubernetes core group
	versions []string
	// specRequired mirrors the CRD schema: a ServiceEntry without a spec is
	// rejected by the API server, the other kinds default to an empty spec.
	specRequired bool
	// clusterScoped kinds (Namespace) have no namespace: one written in
	// metadata is ignored, as the API server ignores it.
	clusterScoped bool
	// topLevel, when set, lists the keys the kind has instead of spec (a
	// Secret's type and data); decode then receives the whole object.
	topLevel []string
	decode   func(d *objectDecoder, spec *yaml.Node, b *Bundle)
}

const istioNetworking = "networking.istio.io"

// istioVersions are the served versions of the Istio networking CRDs. They
// share one schema, so all decode into the same istio.io/api types.
var istioVersions = []string{"v1", "v1beta1", "v1alpha3"}

var kinds = map[string]kindInfo{
	KindGateway: {group: istioNetworking, versions: istioVersions,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &networkingv1.Gateway{}
			if d.decodeProto(spec, s) {
				b.Gateways = append(b.Gateways, &Gateway{Meta: d.meta, Spec: s})
			}
		}},
	KindVirtualService: {group: istioNetworking, versions: istioVersions,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &networkingv1.VirtualService{}
			if d.decodeProto(spec, s) {
				b.VirtualServices = append(b.VirtualServices, &VirtualService{Meta: d.meta, Spec: s})
			}
		}},
	KindDestinationRule: {group: istioNetworking, versions: istioVersions,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &networkingv1.DestinationRule{}
			if d.decodeProto(spec, s) {
				b.DestinationRules = append(b.DestinationRules, &DestinationRule{Meta: d.meta, Spec: s})
			}
		}},
	KindServiceEntry: {group: istioNetworking, versions: istioVersions, specRequired: true,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &networkingv1.ServiceEntry{}
			if d.decodeProto(spec, s) {
				b.ServiceEntries = append(b.ServiceEntries, &ServiceEntry{Meta: d.meta, Spec: s})
			}
		}},
	KindWorkloadEntry: {group: istioNetworking, versions: istioVersions,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &networkingv1.WorkloadEntry{}
			if d.decodeProto(spec, s) {
				b.WorkloadEntries = append(b.WorkloadEntries, &WorkloadEntry{Meta: d.meta, Spec: s})
			}
		}},
	KindService: {group: "", versions: []string{"v1"},
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			s := &corev1.ServiceSpec{}
			if d.decodeKube(spec, s) {
				b.Services = append(b.Services, &Service{Meta: d.meta, Spec: s})
			}
		}},
	// A Namespace is read for its metadata only; its spec (finalizers) is
	// still checked strictly so a typo is reported, then discarded.
	KindNamespace: {group: "", versions: []string{"v1"}, clusterScoped: true,
		decode: func(d *objectDecoder, spec *yaml.Node, b *Bundle) {
			if d.decodeKube(spec, &corev1.NamespaceSpec{}) {
				b.Namespaces = append(b.Namespaces, &Namespace{Meta: d.meta})
			}
		}},
	KindSecret: {group: "", versions: []string{"v1"}, topLevel: secretKeys, decode: decodeSecret},
}

func (k kindInfo) supports(version string) bool { return slices.Contains(k.versions, version) }

// apiVersions lists the accepted apiVersion strings, for error messages.
func (k kindInfo) apiVersions() string {
	out := make([]string, len(k.versions))
	for i, v := range k.versions {
		if k.group == "" {
			out[i] = v
		} else {
			out[i] = k.group + "/" + v
		}
	}
	return strings.Join(out, ", ")
}
