package testgen

import (
	"bufio"
	"fmt"
	"io"
)

// WriteYAML writes the configuration s describes as Istio YAML, the same
// objects Bundle builds, so that a benchmark can include reading and
// decoding files.
func WriteYAML(w io.Writer, s Spec) error {
	if s.Hosts <= 0 {
		s.Hosts = 1
	}
	nsvc := s.services()
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: %d, name: http, protocol: HTTP}
    hosts: ["*/*.bench.example.com"]
`, GatewayName, GatewayNamespace, Port)
	perService := make([][]int, nsvc)
	for i := range s.Endpoints {
		perService[i%nsvc] = append(perService[i%nsvc], i)
	}
	for k := range nsvc {
		app := fmt.Sprintf("svc%04d", k)
		fmt.Fprintf(bw, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: %s}
spec:
  hosts: [%s]
  ports: [{number: %d, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_INTERNAL
`, app, Namespace, ServiceHost(k), Port)
		if s.WorkloadEntries {
			fmt.Fprintf(bw, "  workloadSelector: {labels: {app: %s}}\n", app)
		} else if len(perService[k]) > 0 {
			bw.WriteString("  endpoints:\n")
			for n, i := range perService[k] {
				fmt.Fprintf(bw, "  - {address: %s, labels: {app: %s, version: %s}}\n", EndpointAddress(i), app, version(n))
			}
		}
		fmt.Fprintf(bw, `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s, namespace: %s}
spec:
  host: %s
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, app, Namespace, ServiceHost(k))
		if s.WorkloadEntries {
			for n, i := range perService[k] {
				fmt.Fprintf(bw, `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: %s, namespace: %s}
spec: {address: %s, labels: {app: %s, version: %s}}
`, WorkloadEntryName(i), Namespace, EndpointAddress(i), app, version(n))
			}
		}
	}
	for v := range s.VirtualServices {
		h := v % s.Hosts
		svc := ServiceHost(h % nsvc)
		fmt.Fprintf(bw, `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs%05[1]d, namespace: %[2]s}
spec:
  hosts: [%[3]s]
  gateways: [%[4]s/%[5]s]
  http:
  - name: vs%05[1]d
    match: [{uri: {prefix: /vs%05[1]d/}}]
    route:
    - {destination: {host: %[6]s, subset: v1, port: {number: %[7]d}}, weight: 90}
    - {destination: {host: %[6]s, subset: v2, port: {number: %[7]d}}, weight: 10}
`, v, Namespace, Host(h), GatewayNamespace, GatewayName, svc, Port)
	}
	return bw.Flush()
}
