package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

// identityFlags are the gateway's own identity: which Gateways select it
// and where it stands.
type identityFlags struct {
	labels    string
	namespace string
	locality  string
	network   string
	cluster   string
	// trustDomain and certDir are the gateway's mesh identity for
	// ISTIO_MUTUAL.
	trustDomain string
	certDir     string
	classes     string
}

func (f *identityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.labels, "labels", "istio=ingressgateway", "the gateway's workload labels, k=v,...; Gateways whose selector matches them apply")
	fs.StringVar(&f.namespace, "namespace", "istio-system", "the gateway's namespace (DestinationRule lookup, Gateway host namespaces)")
	fs.StringVar(&f.locality, "locality", "", "the gateway's locality, region/zone/subzone")
	fs.StringVar(&f.network, "network", "", "the gateway's network")
	fs.StringVar(&f.cluster, "cluster", "", "the gateway's cluster id")
	fs.StringVar(&f.trustDomain, "trust-domain", "", "the mesh's SPIFFE trust domain, which endpoint identities are named in (default: --mesh trustDomain, else cluster.local)")
	fs.StringVar(&f.certDir, "workload-cert-dir", translate.DefaultWorkloadCertDir, "directory of the gateway's mesh certificate for ISTIO_MUTUAL (cert-chain.pem, key.pem, root-cert.pem)")
	fs.StringVar(&f.classes, "gateway-class", "istio", "Gateway API gatewayClassNames this gateway serves, comma-separated; it serves Gateway <name> of those classes when --labels has gateway.networking.k8s.io/gateway-name=<name>")
}

func (f *identityFlags) identity() (translate.Identity, error) {
	labels, err := parseLabels(f.labels)
	if err != nil {
		return translate.Identity{}, err
	}
	return translate.Identity{
		Labels:         labels,
		Namespace:      f.namespace,
		Locality:       parseLocality(f.locality),
		Network:        f.network,
		Cluster:        f.cluster,
		GatewayClasses: splitList(f.classes),
		// An unset trust domain is completed from --mesh (serve.go).
		TrustDomain:     f.trustDomain,
		WorkloadCertDir: f.certDir,
	}, nil
}

// parseLabels reads "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels: %q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseLocality reads "region/zone/subzone"; missing parts stay empty.
func parseLocality(s string) snapshot.Locality {
	parts := strings.SplitN(s, "/", 3)
	var l snapshot.Locality
	if len(parts) > 0 {
		l.Region = parts[0]
	}
	if len(parts) > 1 {
		l.Zone = parts[1]
	}
	if len(parts) > 2 {
		l.Subzone = parts[2]
	}
	return l
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// splitList reads "a,b,c", dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
