package resource

import (
	"testing"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
)

// The schema walks catch problems before the decoders run, so the paths
// that locate a decoder's own error are exercised here directly, with
// real errors from the real decoders.

func parseSpec(t *testing.T, doc string) (*objectDecoder, *yaml.Node) {
	t.Helper()
	docs, err := parseChunk(chunk{data: []byte(doc), firstLine: 1})
	if err != nil || len(docs) != 1 {
		t.Fatalf("parse: %v", err)
	}
	budget := maxNodes
	d := &objectDecoder{meta: Meta{Fields: map[string]int{}}, budget: &budget}
	d.index(docs[0], "", 0)
	_, spec := mappingValue(docs[0], "spec")
	return d, spec
}

func TestProtoErrorLocation(t *testing.T) {
	tests := []struct {
		name, doc, field string
		line             int
	}{
		{"wrong type", "spec:\n  hosts: [a]\n  http:\n  - route:\n    - weight: x\n", "spec.http[0].route[0].weight", 5},
		{"unknown field", "spec:\n  hosts: [a]\n  tcp:\n  - rout: []\n", "spec.tcp[0].rout", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, spec := parseSpec(t, tt.doc)
			w := jsonWriter{}
			if err := w.value(spec, "spec", 0); err != nil {
				t.Fatal(err)
			}
			err := protojson.Unmarshal(w.buf.Bytes(), &networkingv1.VirtualService{})
			if err == nil {
				t.Fatal("protojson accepted the input")
			}
			d.protoError(&w, err)
			if len(d.diags) != 1 || d.diags[0].Field != tt.field || d.diags[0].Origin.Line != tt.line {
				t.Errorf("got %v, want %s at line %d (error was %v)", d.diags, tt.field, tt.line, err)
			}
		})
	}
}

func TestKubeErrorLocation(t *testing.T) {
	tests := []struct {
		name, doc, field string
		line             int
	}{
		{"wrong type", "spec:\n  ports:\n  - port: 80\n  - port: x\n", "spec.ports[1].port", 4},
		{"unknown field", "spec:\n  ports:\n  - port: 80\n    prot: 1\n", "spec.ports[0].prot", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, spec := parseSpec(t, tt.doc)
			w := jsonWriter{}
			if err := w.value(spec, "spec", 0); err != nil {
				t.Fatal(err)
			}
			strict, err := kjson.UnmarshalStrict(w.buf.Bytes(), &corev1.ServiceSpec{}, kjson.DisallowUnknownFields)
			if err != nil {
				strict = append(strict, err)
			}
			if len(strict) != 1 {
				t.Fatalf("decoder errors: %v", strict)
			}
			d.kubeError(&w, &corev1.ServiceSpec{}, strict[0])
			if len(d.diags) != 1 || d.diags[0].Field != tt.field || d.diags[0].Origin.Line != tt.line {
				t.Errorf("got %v, want line %d (error was %v)", d.diags, tt.line, strict[0])
			}
		})
	}
}
