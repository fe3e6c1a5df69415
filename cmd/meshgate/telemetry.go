package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"

	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/tracing"
)

// telemetryFlags choose the access log's destination, format and
// sampling. Precedence: the flags, then the --mesh file's accessLogFile
// and accessLogEncoding, then the defaults (stdout, Istio's text format,
// every request).
type telemetryFlags struct {
	accessLog       string
	accessLogFormat string
	accessSampling  float64

	tracingEndpoint string
	tracingSampling float64
}

func (f *telemetryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.accessLog, "access-log", "stdout", "access log destination: stdout, stderr, off, or a file path (default: --mesh accessLogFile when set, else stdout)")
	fs.StringVar(&f.accessLogFormat, "access-log-format", "text", "access log format: text (Istio's default Envoy format) or json (Istio's JSON keys); default: --mesh accessLogEncoding when set")
	fs.Float64Var(&f.accessSampling, "access-log-sampling", 100, "percentage of successful requests logged (0-100); requests that fail (5xx or any response flag) are always logged")
	fs.StringVar(&f.tracingEndpoint, "tracing-otlp-endpoint", "", "export spans over OTLP/HTTP to this collector (host:port or URL; /v1/traces when no path is given); empty exports nothing")
	fs.Float64Var(&f.tracingSampling, "tracing-sampling", -1, "percentage of requests without a sampling decision that start a sampled trace (default: the ProxyConfig's tracing.sampling from --mesh defaultConfig, --proxy-config or the Pod annotation, else Istio's 1)")
}

// tracingSettings resolves the tracing options; pc is the gateway's
// effective ProxyConfig (--mesh defaultConfig with --proxy-config or the
// Pod's annotation over it), which may set tracing.sampling.
func (f *telemetryFlags) tracingSettings(pc *meshv1alpha1.ProxyConfig) (tracing.Options, error) {
	opts := tracing.Options{OTLPEndpoint: f.tracingEndpoint, SamplePercent: f.tracingSampling}
	if opts.SamplePercent < 0 {
		opts.SamplePercent = tracing.DefaultSamplePercent
		if s := pc.GetTracing().GetSampling(); s > 0 {
			opts.SamplePercent = s
		}
	}
	if opts.SamplePercent > 100 {
		return opts, fmt.Errorf("--tracing-sampling: %v is not a percentage (0-100)", opts.SamplePercent)
	}
	return opts, nil
}

// accessLogSettings resolves the destination and options; mc is the
// --mesh MeshConfig, nil without one.
func (f *telemetryFlags) accessLogSettings(fs *flag.FlagSet, mc *meshv1alpha1.MeshConfig) (dest string, opts accesslog.Options, err error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	dest, format := f.accessLog, f.accessLogFormat
	if mc != nil {
		if file := mc.GetAccessLogFile(); file != "" && !set["access-log"] {
			dest = file
		}
		if !set["access-log-format"] {
			format = mc.GetAccessLogEncoding().String()
		}
	}
	if opts.Format, err = accesslog.ParseFormat(format); err != nil {
		return "", opts, fmt.Errorf("--access-log-format: %w", err)
	}
	if f.accessSampling < 0 || f.accessSampling > 100 {
		return "", opts, fmt.Errorf("--access-log-sampling: %v is not a percentage (0-100)", f.accessSampling)
	}
	opts.SamplePercent = f.accessSampling
	return dest, opts, nil
}

func openAccessLog(dest string) (io.Writer, func(), error) {
	switch dest {
	case "off", "":
		return nil, func() {}, nil
	case "stdout", "/dev/stdout":
		return os.Stdout, func() {}, nil
	case "stderr", "/dev/stderr":
		return os.Stderr, func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--access-log: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}
