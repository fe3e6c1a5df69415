package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// BenchmarkRunLarge validates a configuration of 1000 services, each with
// a DestinationRule and a VirtualService on one of 50 Gateways, to keep
// the cross-object analysis from growing worse than linear per object.
func BenchmarkRunLarge(b *testing.B) {
	var sb strings.Builder
	for g := range 50 {
		fmt.Fprintf(&sb, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw%d, namespace: istio-system}\n"+
			"spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*.g%d.example.com\"]}]}\n---\n", g, g)
	}
	for i := range 1000 {
		fmt.Fprintf(&sb, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: s%[1]d, namespace: default}
spec: {hosts: [s%[1]d.internal], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 10.0.%[2]d.%[3]d, labels: {v: a}}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: s%[1]d, namespace: default}
spec: {host: s%[1]d.internal, subsets: [{name: a, labels: {v: a}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: s%[1]d, namespace: default}
spec:
  hosts: [s%[1]d.g%[4]d.example.com]
  gateways: [istio-system/gw%[4]d]
  http: [{route: [{destination: {host: s%[1]d.internal, subset: a}, weight: 90}, {destination: {host: s%[1]d.internal}, weight: 10}]}]
---
`, i, i/250, i%250+1, i%50)
	}
	var bundle resource.Bundle
	if d := resource.DecodeFile("large.yaml", []byte(sb.String()), &bundle); d.HasErrors() {
		b.Fatal(d.Error())
	}
	b.ResetTimer()
	for b.Loop() {
		if ds := Run(&bundle, translate.Identity{}, nil); len(ds) != 0 {
			b.Fatalf("unexpected findings: %s", ds[:1].Error())
		}
	}
}
