package testgen_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	"github.com/meshgate/meshgate/internal/translate/testgen"
)

// TestYAMLMatchesBundle decodes the YAML WriteYAML writes and compiles
// it and the Bundle built directly: both give the same snapshot.
func TestYAMLMatchesBundle(t *testing.T) {
	for _, we := range []bool{false, true} {
		spec := testgen.Spec{VirtualServices: 30, Hosts: 7, Services: 4, Endpoints: 40, WorkloadEntries: we}
		var buf bytes.Buffer
		if err := testgen.WriteYAML(&buf, spec); err != nil {
			t.Fatal(err)
		}
		var fromYAML resource.Bundle
		if d := resource.DecodeFile("gen.yaml", buf.Bytes(), &fromYAML); len(d) != 0 {
			t.Fatalf("WorkloadEntries=%v: decoding the generated YAML: %s", we, d.Error())
		}
		fromYAML.Sort()
		a, da := translate.Build(&fromYAML, translate.Identity{})
		b, db := translate.Build(testgen.Bundle(spec), translate.Identity{})
		if len(da)+len(db) != 0 {
			t.Fatalf("diagnostics: %v %v", da, db)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("WorkloadEntries=%v: the snapshot from YAML differs from the one from the Bundle", we)
		}
		if len(b.Clusters) != 2*spec.Services {
			t.Errorf("clusters = %d, want %d", len(b.Clusters), 2*spec.Services)
		}
	}
}

func TestEndpointAddress(t *testing.T) {
	for i, want := range map[int]string{0: "10.0.0.1", 254: "10.0.0.255", 255: "10.0.1.0", 99_999: "10.1.134.160"} {
		if got := testgen.EndpointAddress(i); got != want {
			t.Errorf("EndpointAddress(%d) = %s, want %s", i, got, want)
		}
	}
}
