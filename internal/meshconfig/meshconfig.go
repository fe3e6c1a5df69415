// Package meshconfig reads Istio's mesh-wide settings (MeshConfig, the
// "mesh" key of the istio ConfigMap) and per-workload overrides
// (ProxyConfig, the proxy.istio.io/config annotation), decoded into the
// istio.io/api mesh/v1alpha1 types, and extracts what a gateway uses:
// gatewayTopology (numTrustedProxies, forwardClientCertDetails,
// proxyProtocol) and the drain settings.
//
// Decoding is strict: YAML is converted to JSON and decoded by protojson,
// so a misspelt field is an error naming it rather than a setting
// silently ignored (Istio itself retries with unknown fields allowed).
package meshconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
)

// AnnotationProxyConfig is the workload annotation holding a ProxyConfig
// (JSON or YAML) that overrides the mesh's defaultConfig for that workload.
const AnnotationProxyConfig = "proxy.istio.io/config"

// Istio defaults for the settings a gateway reads.
const (
	// DefaultTerminationDrainDuration is ProxyConfig
	// terminationDrainDuration's default.
	DefaultTerminationDrainDuration = 5 * time.Second
	// DefaultMinimumDrainDuration is the agent's MINIMUM_DRAIN_DURATION
	// default, used with EXIT_ON_ZERO_ACTIVE_CONNECTIONS.
	DefaultMinimumDrainDuration = 5 * time.Second
)

// proxyMetadata keys the Istio agent reads as environment variables.
const (
	metaExitOnZero   = "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"
	metaMinimumDrain = "MINIMUM_DRAIN_DURATION"
)

// LoadMesh reads a MeshConfig from a file: MeshConfig YAML or JSON (what
// `istioctl` and the istio ConfigMap's "mesh" key hold), or a whole
// ConfigMap, whose data.mesh is then read.
func LoadMesh(path string) (*meshv1alpha1.MeshConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mc, err := DecodeMesh(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mc, nil
}

// DecodeMesh decodes MeshConfig YAML or JSON, or a ConfigMap holding it
// under data.mesh.
func DecodeMesh(data []byte) (*meshv1alpha1.MeshConfig, error) {
	tree, err := yamlTree(data)
	if err != nil {
		return nil, err
	}
	if m, ok := tree.(map[string]any); ok && m["kind"] == "ConfigMap" {
		inner, _ := m["data"].(map[string]any)
		mesh, ok := inner["mesh"].(string)
		if !ok {
			return nil, errors.New("the ConfigMap has no data.mesh")
		}
		if tree, err = yamlTree([]byte(mesh)); err != nil {
			return nil, fmt.Errorf("data.mesh: %w", err)
		}
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := decodeTree(tree, mc); err != nil {
		return nil, err
	}
	return mc, nil
}

// DecodeProxyConfig decodes a ProxyConfig in YAML or JSON, e.g. the value
// of the proxy.istio.io/config annotation.
func DecodeProxyConfig(data []byte) (*meshv1alpha1.ProxyConfig, error) {
	tree, err := yamlTree(data)
	if err != nil {
		return nil, err
	}
	pc := &meshv1alpha1.ProxyConfig{}
	if err := decodeTree(tree, pc); err != nil {
		return nil, err
	}
	return pc, nil
}

// ApplyProxyConfig returns base overridden by override the way Istio
// applies the proxy.istio.io/config annotation to defaultConfig
// (mesh.MergeProxyConfig): every field the override sets replaces the
// base field as a whole (gatewayTopology included), except proxyMetadata,
// whose keys are merged, the override winning. Neither input is changed.
func ApplyProxyConfig(base, override *meshv1alpha1.ProxyConfig) *meshv1alpha1.ProxyConfig {
	out := &meshv1alpha1.ProxyConfig{}
	if base != nil {
		out = proto.Clone(base).(*meshv1alpha1.ProxyConfig)
	}
	if override == nil {
		return out
	}
	meta := out.GetProxyMetadata()
	dst := out.ProtoReflect()
	override.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	if len(meta) > 0 {
		merged := make(map[string]string, len(meta)+len(override.GetProxyMetadata()))
		for k, v := range meta {
			merged[k] = v
		}
		for k, v := range override.GetProxyMetadata() {
			merged[k] = v
		}
		out.ProxyMetadata = merged
	}
	return proto.Clone(out).(*meshv1alpha1.ProxyConfig)
}

// Settings are what a gateway takes from its effective ProxyConfig.
type Settings struct {
	// NumTrustedProxies, ClientCert and ClientCertDetails go into the
	// forwarding settings.
	NumTrustedProxies uint32
	ClientCert        forwarded.ClientCertMode
	ClientCertDetails *forwarded.ClientCertDetails
	// ProxyProtocol is gatewayTopology.proxyProtocol being set.
	ProxyProtocol bool
	// DrainDelay is how long listeners keep accepting after shutdown
	// begins: terminationDrainDuration, or MINIMUM_DRAIN_DURATION when
	// DrainUntilIdle.
	DrainDelay time.Duration
	// DrainUntilIdle is EXIT_ON_ZERO_ACTIVE_CONNECTIONS: after DrainDelay
	// the gateway waits for active connections to reach zero.
	DrainUntilIdle bool
}

// GatewaySettings extracts the gateway settings from an effective
// ProxyConfig (nil means all defaults).
func GatewaySettings(pc *meshv1alpha1.ProxyConfig) (Settings, error) {
	g := Settings{DrainDelay: DefaultTerminationDrainDuration}
	topo := pc.GetGatewayTopology()
	g.NumTrustedProxies = topo.GetNumTrustedProxies()
	g.ClientCert = forwarded.ClientCertMode(topo.GetForwardClientCertDetails())
	g.ProxyProtocol = topo.GetProxyProtocol() != nil
	if d := pc.GetTerminationDrainDuration(); d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
			return g, fmt.Errorf("terminationDrainDuration: invalid duration %v", d)
		}
		g.DrainDelay = d.AsDuration()
	}
	if s := pc.GetProxyHeaders().GetSetCurrentClientCertDetails(); s != nil {
		// The API's documented defaults: subject, DNS and URI on; cert
		// and chain off.
		g.ClientCertDetails = &forwarded.ClientCertDetails{
			Subject: boolOr(s.GetSubject(), true),
			Cert:    boolOr(s.GetCert(), false),
			Chain:   boolOr(s.GetChain(), false),
			DNS:     boolOr(s.GetDns(), true),
			URI:     boolOr(s.GetUri(), true),
		}
	}
	meta := pc.GetProxyMetadata()
	if v, ok := meta[metaExitOnZero]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return g, fmt.Errorf("proxyMetadata.%s: %q is not a boolean", metaExitOnZero, v)
		}
		g.DrainUntilIdle = on
	}
	if g.DrainUntilIdle {
		g.DrainDelay = DefaultMinimumDrainDuration
		if v, ok := meta[metaMinimumDrain]; ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return g, fmt.Errorf("proxyMetadata.%s: %q is not a duration", metaMinimumDrain, v)
			}
			g.DrainDelay = d
		}
	}
	return g, nil
}

type boolValue interface{ GetValue() bool }

func boolOr(v boolValue, def bool) bool {
	if v == nil || isNilBool(v) {
		return def
	}
	return v.GetValue()
}

// isNilBool reports a typed nil *wrapperspb.BoolValue behind the interface.
func isNilBool(v boolValue) bool {
	m, ok := v.(proto.Message)
	return ok && !m.ProtoReflect().IsValid()
}

// yamlTree parses one YAML (or JSON) document into maps, slices and
// scalars.
func yamlTree(data []byte) (any, error) {
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	return tree, nil
}

// decodeTree converts a YAML tree to JSON and decodes it into msg with
// protojson, rejecting unknown fields. An error names the field path.
func decodeTree(tree any, msg proto.Message) error {
	if tree == nil {
		return nil // an empty document: every field keeps its default
	}
	var w jsonWriter
	if err := w.value(tree, ""); err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(w.buf.Bytes(), msg); err != nil {
		return w.explain(err)
	}
	return nil
}

// jsonWriter writes a YAML tree as one line of JSON, remembering where
// each value starts so a protojson error position can be turned back into
// a field path.
type jsonWriter struct {
	buf   bytes.Buffer
	marks []mark
}

type mark struct {
	off  int
	path string
}

var protojsonPos = regexp.MustCompile(`\s*\(line 1:(\d+)\):?\s*`)

func (w *jsonWriter) explain(err error) error {
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "proto:"))
	msg = strings.TrimLeft(msg, "\u00a0 ")
	m := protojsonPos.FindStringSubmatch(msg)
	if m == nil {
		return errors.New(msg)
	}
	msg = strings.Trim(strings.Replace(msg, m[0], ": ", 1), ": ")
	col, _ := strconv.Atoi(m[1])
	path := ""
	for _, mk := range w.marks {
		if mk.off <= col-1 {
			path = mk.path
		}
	}
	if path == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", path, msg)
}

func (w *jsonWriter) value(v any, path string) error {
	w.marks = append(w.marks, mark{off: w.buf.Len(), path: path})
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			kp := strings.TrimPrefix(path+"."+k, ".")
			w.marks = append(w.marks, mark{off: w.buf.Len(), path: kp})
			if err := w.scalar(k); err != nil {
				return err
			}
			w.buf.WriteByte(':')
			if err := w.value(t[k], kp); err != nil {
				return err
			}
		}
		w.buf.WriteByte('}')
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return fmt.Errorf("%s: key %v is not a string", path, k)
			}
			m[ks] = e
		}
		w.marks = w.marks[:len(w.marks)-1]
		return w.value(m, path)
	case []any:
		w.buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.value(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
	case time.Time:
		return w.scalar(t.Format(time.RFC3339Nano))
	default:
		return w.scalar(t)
	}
	return nil
}

func (w *jsonWriter) scalar(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.buf.Write(b)
	return nil
}
