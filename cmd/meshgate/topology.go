package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"

	"github.com/meshgate/meshgate/internal/app"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
	"github.com/meshgate/meshgate/internal/meshconfig"
	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/translate"
)

// topologyFlags are the gateway's place behind load balancers and its
// drain. Precedence, highest first: these flags, the --proxy-config file
// (what the proxy.istio.io/config annotation holds), the --mesh file's
// defaultConfig, Istio's defaults.
type topologyFlags struct {
	mesh, proxyConfig string
	// podProxyConfig is the gateway Pod's proxy.istio.io/config
	// annotation, which applies when --proxy-config is not given.
	podProxyConfig string
	// meshRead caches meshConfig, effective gatewayProxyConfig.
	meshRead struct {
		done bool
		mc   *meshv1alpha1.MeshConfig
		err  error
	}
	effective struct {
		done bool
		pc   *meshv1alpha1.ProxyConfig
		err  error
	}

	numTrustedProxies    int
	trustedCIDRs         string
	internalCIDRs        string
	debugHeader          bool
	proxyProtocol        bool
	proxyProtocolAllowed string
	proxyProtocolOutside string
	proxyProtocolTimeout time.Duration

	drainDelay     time.Duration
	drainMode      string
	reusePort      bool
	handoverSocket string
}

func (f *topologyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mesh, "mesh", "", "Istio MeshConfig file (YAML or JSON, or the istio ConfigMap); its defaultConfig.gatewayTopology and drain settings and its default*ExportTo visibility defaults apply")
	fs.StringVar(&f.proxyConfig, "proxy-config", "", "ProxyConfig file overriding the mesh defaultConfig for this gateway, as Istio's proxy.istio.io/config annotation does (same content)")
	fs.IntVar(&f.numTrustedProxies, "num-trusted-proxies", -1, "gatewayTopology.numTrustedProxies: trusted hops in front of the gateway (-1: from --mesh/--proxy-config)")
	fs.StringVar(&f.trustedCIDRs, "trusted-cidrs", "", "trust X-Forwarded-For and X-Forwarded-Proto from peers in these CIDRs (comma-separated), walking X-Forwarded-For past them; instead of hop counting")
	fs.StringVar(&f.internalCIDRs, "internal-cidrs", "", "peers whose requests without X-Forwarded-For are internal (x-envoy-internal: true); none by default, as in Istio")
	fs.BoolVar(&f.debugHeader, "client-address-header", false, "add "+"X-Meshgate-Client-Address-Source to responses, saying how the client address was derived")
	fs.BoolVar(&f.proxyProtocol, "proxy-protocol", false, "require a PROXY protocol (v1 or v2) header on every listener, as gatewayTopology.proxyProtocol does")
	fs.StringVar(&f.proxyProtocolAllowed, "proxy-protocol-allowed-cidrs", "", "sources allowed to send PROXY headers (comma-separated CIDRs); empty allows any, as Istio does")
	fs.StringVar(&f.proxyProtocolOutside, "proxy-protocol-outside", "reject", "connections from outside --proxy-protocol-allowed-cidrs: reject (close) or direct (serve as direct clients; a PROXY header from them closes the connection)")
	fs.DurationVar(&f.proxyProtocolTimeout, "proxy-protocol-timeout", listener.DefaultProxyHeaderTimeout, "how long a connection may take to send its PROXY header")
	fs.DurationVar(&f.drainDelay, "drain-delay", meshconfig.DefaultTerminationDrainDuration, "after SIGTERM, how long readiness fails and listeners keep accepting (telling clients to go) before they close; default terminationDrainDuration, or MINIMUM_DRAIN_DURATION in until-idle mode")
	fs.StringVar(&f.drainMode, "drain-mode", "", "fixed (close after --drain-delay) or until-idle (then wait for zero active connections, Istio's EXIT_ON_ZERO_ACTIVE_CONNECTIONS); default from --mesh, else fixed")
	fs.BoolVar(&f.reusePort, "reuse-port", true, "bind ports with SO_REUSEPORT, so a new process can bind them while this one drains")
	fs.StringVar(&f.handoverSocket, "handover-socket", "", "unix socket path for zero-downtime restarts: a new process started with the same path takes the listening sockets over and this one drains and exits")
}

// topology builds the app settings; set names the flags given on the
// command line.
func (f *topologyFlags) topology(fs *flag.FlagSet) (app.Topology, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	pc, err := f.gatewayProxyConfig()
	if err != nil {
		return app.Topology{}, err
	}
	g, err := meshconfig.GatewaySettings(pc)
	if err != nil {
		return app.Topology{}, fmt.Errorf("mesh settings: %w", err)
	}

	t := app.Topology{
		DrainDelay:     g.DrainDelay,
		DrainUntilIdle: g.DrainUntilIdle,
		ReusePort:      f.reusePort,
		HandoverSocket: f.handoverSocket,
	}
	t.Forwarded.NumTrustedProxies = g.NumTrustedProxies
	t.Forwarded.ClientCert = g.ClientCert
	t.Forwarded.ClientCertDetails = g.ClientCertDetails
	t.Forwarded.DebugHeader = f.debugHeader
	if f.numTrustedProxies >= 0 {
		t.Forwarded.NumTrustedProxies = uint32(f.numTrustedProxies)
	}
	if t.Forwarded.TrustedCIDRs, err = listener.ParsePrefixes(f.trustedCIDRs); err != nil {
		return app.Topology{}, fmt.Errorf("--trusted-cidrs: %w", err)
	}
	if t.Forwarded.InternalCIDRs, err = listener.ParsePrefixes(f.internalCIDRs); err != nil {
		return app.Topology{}, fmt.Errorf("--internal-cidrs: %w", err)
	}
	if err := t.Forwarded.Validate(); err != nil {
		return app.Topology{}, err
	}

	if g.ProxyProtocol || f.proxyProtocol {
		pp := &listener.ProxyProtocol{HeaderTimeout: f.proxyProtocolTimeout}
		if pp.Allowed, err = listener.ParsePrefixes(f.proxyProtocolAllowed); err != nil {
			return app.Topology{}, fmt.Errorf("--proxy-protocol-allowed-cidrs: %w", err)
		}
		if pp.Outside, err = listener.ParseOutsidePolicy(f.proxyProtocolOutside); err != nil {
			return app.Topology{}, fmt.Errorf("--proxy-protocol-outside: %w", err)
		}
		t.ProxyProtocol = pp
	}

	switch f.drainMode {
	case "":
	case "fixed":
		t.DrainUntilIdle = false
	case "until-idle":
		t.DrainUntilIdle = true
	default:
		return app.Topology{}, fmt.Errorf("--drain-mode: %q is neither fixed nor until-idle", f.drainMode)
	}
	if set["drain-delay"] {
		t.DrainDelay = f.drainDelay
	} else if set["drain-mode"] && t.DrainUntilIdle && !g.DrainUntilIdle {
		t.DrainDelay = meshconfig.DefaultMinimumDrainDuration
	}
	if t.DrainDelay < 0 {
		return app.Topology{}, fmt.Errorf("--drain-delay: %s is negative", t.DrainDelay)
	}
	return t, nil
}

// meshConfig is the --mesh file's MeshConfig, nil without one. It is
// read once.
func (f *topologyFlags) meshConfig() (*meshv1alpha1.MeshConfig, error) {
	if !f.meshRead.done {
		f.meshRead.done = true
		if f.mesh != "" {
			mc, err := meshconfig.LoadMesh(f.mesh)
			if err != nil {
				err = fmt.Errorf("--mesh: %w", err)
			}
			f.meshRead.mc, f.meshRead.err = mc, err
		}
	}
	return f.meshRead.mc, f.meshRead.err
}

// meshIdentity completes the gateway's identity from --mesh.
func (f *topologyFlags) meshIdentity(id *translate.Identity) error {
	mc, err := f.meshConfig()
	if err != nil {
		return err
	}
	applyMeshIdentity(mc, id)
	return nil
}

// applyMeshIdentity completes an identity from a MeshConfig: the trust
// domain, unless one is set already, and the exportTo defaults
// (defaultVirtualServiceExportTo, defaultDestinationRuleExportTo,
// defaultServiceExportTo). Without one every exportTo default is "*".
func applyMeshIdentity(mc *meshv1alpha1.MeshConfig, id *translate.Identity) {
	if mc == nil {
		return
	}
	if id.TrustDomain == "" {
		id.TrustDomain = mc.GetTrustDomain()
	}
	id.ExportTo = translate.ExportDefaults{
		VirtualService:  mc.GetDefaultVirtualServiceExportTo(),
		DestinationRule: mc.GetDefaultDestinationRuleExportTo(),
		Service:         mc.GetDefaultServiceExportTo(),
	}
}

// gatewayProxyConfig is the gateway's effective ProxyConfig: the --mesh
// file's defaultConfig with --proxy-config, or else the gateway Pod's
// annotation, applied over it. It is read once.
func (f *topologyFlags) gatewayProxyConfig() (*meshv1alpha1.ProxyConfig, error) {
	if f.effective.done {
		return f.effective.pc, f.effective.err
	}
	f.effective.done = true
	f.effective.pc, f.effective.err = f.readProxyConfig()
	return f.effective.pc, f.effective.err
}

func (f *topologyFlags) readProxyConfig() (*meshv1alpha1.ProxyConfig, error) {
	mc, err := f.meshConfig()
	if err != nil {
		return nil, err
	}
	pc := mc.GetDefaultConfig()
	switch {
	case f.proxyConfig != "":
		data, err := os.ReadFile(f.proxyConfig)
		if err != nil {
			return nil, fmt.Errorf("--proxy-config: %w", err)
		}
		override, err := meshconfig.DecodeProxyConfig(data)
		if err != nil {
			return nil, fmt.Errorf("--proxy-config: %s: %w", f.proxyConfig, err)
		}
		pc = meshconfig.ApplyProxyConfig(pc, override)
	case f.podProxyConfig != "":
		override, err := meshconfig.DecodeProxyConfig([]byte(f.podProxyConfig))
		if err != nil {
			return nil, fmt.Errorf("the gateway Pod's %s annotation: %w", kube.AnnotationProxyConfig, err)
		}
		pc = meshconfig.ApplyProxyConfig(pc, override)
	}
	return pc, nil
}
