package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/meshgate/meshgate/internal/app"
)

func serveCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var (
		configs   multiFlag
		id        identityFlags
		adminAddr = fs.String("admin", "127.0.0.1:15000", "admin API address (empty disables)")
		status    = fs.String("status", ":15021", "status port address serving /healthz/ready (empty disables)")
		logLevel  = fs.String("log-level", "info", "log level: debug, info, warn, error")
		shutdown  = fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish at shutdown")
	)
	fs.Var(&configs, "config", "configuration directory or file (repeatable)")
	id.register(fs)
	var kf kubeFlags
	kf.register(fs, &id)
	var tf topologyFlags
	tf.register(fs)
	var telemetry telemetryFlags
	telemetry.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	configs = append(configs, fs.Args()...)
	useKube := kf.enabled(configs)
	switch {
	case useKube && len(configs) > 0:
		fmt.Fprintln(os.Stderr, "meshgate serve: give either --config or --kubeconfig, not both")
		return 2
	case !useKube && len(configs) == 0:
		fmt.Fprintln(os.Stderr, "meshgate serve: --config DIR or --kubeconfig FILE is required (in a Pod, the in-cluster configuration is used when neither is given)")
		return 2
	}
	logger, err := newLogger(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	var source app.Source
	if useKube {
		// Before id.identity(): the cluster may complete the identity.
		if source, err = kf.source(ctx, fs, &id, &tf, logger); err != nil {
			fmt.Fprintln(os.Stderr, "meshgate serve:", err)
			return 2
		}
	}
	identity, err := id.identity()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	topology, err := tf.topology(fs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	if err := tf.meshIdentity(&identity); err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	mc, err := tf.meshConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	accessDest, accessOpts, err := telemetry.accessLogSettings(fs, mc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	pc, err := tf.gatewayProxyConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	tracingOpts, err := telemetry.tracingSettings(pc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	access, closeAccess, err := openAccessLog(accessDest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate serve:", err)
		return 2
	}
	defer closeAccess()

	// The gateway also stops when a new process takes its sockets over,
	// without a signal.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	gw, err := app.Start(runCtx, app.Options{
		ConfigPaths:      configs,
		Source:           source,
		Identity:         identity,
		AdminAddr:        *adminAddr,
		StatusAddr:       *status,
		Logger:           logger,
		AccessLog:        access,
		AccessLogOptions: accessOpts,
		Tracing:          tracingOpts,
		ShutdownTimeout:  *shutdown,
		Topology:         topology,
	})
	if err != nil {
		logger.Error("start failed", "error", err)
		return 1
	}
	logger.Info("meshgate started", "version", version, "admin", gw.AdminAddr(), "status", gw.StatusAddr())
	code := 0
	select {
	case <-ctx.Done():
	case err := <-gw.Errors():
		logger.Error("stopping", "error", err)
		code = 1
	case <-gw.HandedOver():
		logger.Info("a new process took the listening sockets over")
	}
	logger.Info("shutting down")
	gw.Shutdown()
	stopRun()
	gw.Wait()
	return code
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
