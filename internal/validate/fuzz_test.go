package validate

import (
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// FuzzValidate feeds arbitrary YAML through decoding and both layers of
// validation: whatever decodes must be checked without a panic, and every
// finding must name its code and field.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		servicesYAML,
		gwHeader + "spec: {servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: MUTUAL}}]}",
		vsHeader + "spec: {hosts: [a], gateways: [x/y], http: [{route: [{destination: {host: a, subset: v1}, weight: 0}, {destination: {host: b}}]}]}",
		drHeader + "spec: {host: a, trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: a, to: a}]}}}}",
		seHeader + "spec: {hosts: [a.com], resolution: STATIC, endpoints: [{address: x}], ports: [{number: 0, name: A}]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b resource.Bundle
		_ = resource.DecodeFile("fuzz.yaml", data, &b)
		for _, d := range Run(&b, translate.Identity{}, nil) {
			if d.Code == "" || d.Field == "" {
				t.Fatalf("finding without code or field: %+v", d)
			}
		}
	})
}
