package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/app"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/source/kube"
)

// kubeFlags select the Kubernetes source: serve reads a cluster's API
// instead of files when --kubeconfig is given, or when it runs in a Pod
// and no --config is.
type kubeFlags struct {
	kubeconfigs     multiFlag
	watchNamespaces multiFlag
}

func (f *kubeFlags) register(fs *flag.FlagSet, id *identityFlags) {
	fs.Var(&f.kubeconfigs, "kubeconfig",
		"read configuration from Kubernetes: a kubeconfig file, or a directory of them (repeatable; the first is the gateway's own cluster, which also holds the Istio configuration)")
	fs.Var(&f.watchNamespaces, "watch-namespace",
		"with Kubernetes, read only these namespaces (repeatable or comma-separated; default all). --namespace is the gateway's own namespace")
	fs.StringVar(&id.cluster, "cluster-id", "", "the gateway's cluster id (same as --cluster); with Kubernetes it defaults to "+kube.DefaultClusterID)
}

// enabled reports whether the Kubernetes source is to be used.
func (f *kubeFlags) enabled(configs []string) bool {
	return len(f.kubeconfigs) > 0 || (len(configs) == 0 && kube.InCluster())
}

// source builds the Kubernetes source and completes the gateway's
// identity from its cluster: the cluster ID default and, in a Pod (the
// POD_NAME and POD_NAMESPACE variables of the downward API), the Pod's
// labels, namespace and its Node's locality, for what the flags leave
// unset, the way Istio's gateways learn who they are; and the Pod's
// proxy.istio.io/config annotation, unless --proxy-config is given.
func (f *kubeFlags) source(ctx context.Context, fs *flag.FlagSet, id *identityFlags, tf *topologyFlags, logger *slog.Logger) (app.Source, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if id.cluster == "" {
		id.cluster = kube.DefaultClusterID
	}
	clusters, err := kube.LoadClusters(f.kubeconfigs, id.cluster)
	if err != nil {
		return nil, err
	}
	if pod, ns := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE"); pod != "" && ns != "" {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		gp, err := kube.LookupGatewayPod(lctx, clusters[0], ns, pod)
		cancel()
		switch {
		case err != nil:
			logger.Warn("cannot read the gateway's own Pod; using the flags for its labels and locality", "error", err)
		default:
			if !set["labels"] && len(gp.Labels) > 0 {
				id.labels = formatLabelFlag(gp.Labels)
			}
			if !set["locality"] {
				id.locality = snapshot.Locality{Region: gp.Region, Zone: gp.Zone, Subzone: gp.Subzone}.String()
			}
			tf.podProxyConfig = gp.ProxyConfig
			logger.Info("gateway Pod", "pod", ns+"/"+pod, "node", gp.Node, "labels", id.labels, "locality", id.locality,
				"proxyConfig", gp.ProxyConfig != "")
		}
		if !set["namespace"] {
			id.namespace = ns
		}
	}
	var namespaces []string
	for _, v := range f.watchNamespaces {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				namespaces = append(namespaces, n)
			}
		}
	}
	ids := make([]string, len(clusters))
	for i, c := range clusters {
		ids[i] = c.ID
	}
	logger.Info("reading configuration from Kubernetes", "clusters", ids, "namespaces", namespaces)
	src, err := kube.New(kube.Options{
		Clusters:         clusters,
		Namespaces:       namespaces,
		GatewayNamespace: id.namespace,
		Logger:           logger.With("component", "source"),
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return src, nil
}

// formatLabelFlag renders labels as --labels takes them.
func formatLabelFlag(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}
