package validate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/testcorpus"
	"github.com/meshgate/meshgate/internal/translate"
	"go.yaml.in/yaml/v3"
)

// istioCodes maps the message codes of Istio's analyzers (istioctl
// analyze) to the meshgate codes that report the same condition. A code
// maps to several when Istio uses one name for several conditions
// (ReferencedResourceNotFound), or when meshgate names the root cause: a
// Gateway that does not exist (MG1202) serves none of the hosts either,
// and a Gateway whose selector does not select this gateway (MG1101) has
// no credential for it to check.
var istioCodes = map[string][]string{
	"ReferencedResourceNotFound": {
		translate.CodeGatewayNotFound, translate.CodeUnknownService, translate.CodeUnknownSubset, translate.CodeUnknownPort,
		translate.CodeCredential, translate.CodeGatewayNotSelected,
	},
	"ConflictingGateways":                             {CodeConflictingGateways},
	"ConflictingMeshGatewayVirtualServiceHosts":       {CodeMeshGatewayHosts},
	"VirtualServiceDestinationPortSelectorRequired":   {translate.CodeAmbiguousPort},
	"VirtualServiceHostNotFoundInGateway":             {translate.CodeNoHostMatch, translate.CodeGatewayNotFound},
	"NoServerCertificateVerificationDestinationLevel": {CodeNoServerCertVerification},
	"GatewayDuplicateCertificate":                     {CodeDuplicateCertificate},
	"IngressRouteRulesNotAffected":                    {CodeIngressRouteRules},
	"ConflictingServiceEntryProtocol":                 {CodeConflictingProtocol},
	"UnknownDestinationRuleHost":                      {CodeUnknownDestinationRuleHost},
	"DestinationRuleSubsetNotSelectPods":              {translate.CodeEmptySubset},
}

// cleanCases names the analyzer each case without expected messages runs
// in Istio's test grid (pkg/config/analysis/analyzers/analyzers_test.go).
var cleanCases = map[string][]string{
	"gateways with different port are non-conflicting": {"ConflictingGateways"},
	"destinationrule with both cacerts":                {"NoServerCertificateVerificationDestinationLevel"},
	"ServiceEntry no conflict same protocol":           {"ConflictingServiceEntryProtocol"},
}

type expectedCase struct {
	Test     string   `yaml:"test"`
	Files    []string `yaml:"files"`
	Expected []struct {
		Code     string `yaml:"code"`
		Resource string `yaml:"resource"`
	} `yaml:"expected_messages"`
}

// TestCorpusAnalysis loads each case of invalid/analysis/EXPECTED.yaml as
// `meshgate validate` does (decode, translate, validate) and checks that
// every condition Istio's analyzers report there is reported, on the same
// object; a case Istio finds clean must raise none of the mapped codes.
// testdata/analysis-skip.txt lists the analyzers meshgate does not
// implement, with the reason.
func TestCorpusAnalysis(t *testing.T) {
	testcorpus.Require(t)
	dir := filepath.Join(testcorpus.Dir, "invalid", "analysis")
	data, err := os.ReadFile(filepath.Join(dir, "EXPECTED.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []expectedCase `yaml:"cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	skips := testcorpus.ReadCaseList(t, filepath.Join("testdata", "analysis-skip.txt"))
	reverse := map[string][]string{}
	for istio, codes := range istioCodes {
		for _, c := range codes {
			reverse[c] = append(reverse[c], istio)
		}
	}
	var found, skipped int
	for _, c := range doc.Cases {
		t.Run(c.Test, func(t *testing.T) {
			paths := make([]string, len(c.Files))
			for i, f := range c.Files {
				paths[i] = filepath.Join(dir, f)
			}
			diags := analyzeLikeCLI(t, paths)
			for _, e := range c.Expected {
				if reason, ok := skips[e.Code]; ok {
					skipped++
					t.Logf("not checked: %s %s (%s)", e.Code, e.Resource, reason)
					continue
				}
				codes, ok := istioCodes[e.Code]
				if !ok {
					t.Errorf("Istio code %s has no meshgate mapping and no entry in analysis-skip.txt", e.Code)
					continue
				}
				kind, ns, name := parseResource(e.Resource)
				if !slices.ContainsFunc(diags, func(d diag.Diagnostic) bool {
					return d.Kind == kind && d.Name == name && (ns == "" || d.Namespace == ns) && slices.Contains(codes, d.Code)
				}) {
					t.Errorf("want %s (%s) on %s; got:\n%s", e.Code, strings.Join(codes, "|"), e.Resource, diags.Error())
					continue
				}
				found++
			}
			// Each case of Istio's test grid runs the analyzers whose codes
			// it expects (or, for a clean case, the one named in
			// cleanCases). A meshgate code that only one of those analyzers
			// stands for must not appear on any other object.
			analyzers := map[string]map[string]bool{}
			for _, code := range cleanCases[c.Test] {
				analyzers[code] = map[string]bool{}
			}
			for _, e := range c.Expected {
				if analyzers[e.Code] == nil {
					analyzers[e.Code] = map[string]bool{}
				}
				kind, ns, name := parseResource(e.Resource)
				analyzers[e.Code][kind+" "+ns+"/"+name] = true
				analyzers[e.Code][kind+" /"+name] = true
			}
			for _, d := range diags {
				istio := reverse[d.Code]
				// ReferencedResourceNotFound comes from several analyzers,
				// each run on files that leave out what the others check
				// (the destination-host case has no DestinationRules), so
				// other objects may well have other dangling references.
				if len(istio) != 1 || analyzers[istio[0]] == nil || istio[0] == "ReferencedResourceNotFound" {
					continue
				}
				res := analyzers[istio[0]]
				if !res[d.Kind+" "+d.Namespace+"/"+d.Name] && !res[d.Kind+" /"+d.Name] {
					t.Errorf("Istio's %s does not report this, meshgate does: %s", istio[0], d)
				}
			}
		})
	}
	t.Logf("analysis corpus: %d expected conditions reported, %d not checked (skip list)", found, skipped)
}

// analyzeLikeCLI mirrors validatePaths in cmd/meshgate.
func analyzeLikeCLI(t *testing.T, paths []string) diag.List {
	t.Helper()
	b, diags := resource.LoadPaths(paths...)
	if diags.HasErrors() {
		t.Fatalf("corpus files do not decode: %s", diags.Errors().Error())
	}
	_, tdiags := translate.Build(b, translate.Identity{})
	diags = append(diags, tdiags...)
	diags = append(diags, Run(b, translate.Identity{}, diags)...)
	return diags
}

// parseResource splits "Kind [namespace/]name".
func parseResource(s string) (kind, ns, name string) {
	kind, rest, _ := strings.Cut(s, " ")
	if n, m, ok := strings.Cut(rest, "/"); ok {
		return kind, n, m
	}
	return kind, "", rest
}
