package gatewayapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
)

// FuzzConvert feeds arbitrary documents through decoding and conversion:
// whatever decodes must convert without a panic, deterministically.
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: istio, listeners: [{name: h, port: 80, protocol: HTTP}]}\n---\n" +
		"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: g}], rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m}}}, {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch}}}]}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, _ := resource.Build([]resource.File{{Name: "fuzz.yaml", Data: data}})
		out, diags := Convert(b, Options{})
		again, againDiags := Convert(b, Options{})
		if len(out.VirtualServices) != len(again.VirtualServices) || diags.Error() != againDiags.Error() {
			t.Fatal("two conversions of the same bundle differ")
		}
	})
}
