#!/usr/bin/env bash
# Installs the control plane the Kubernetes source tests run against:
# etcd from Debian's etcd-server package, and a kube-apiserver built from
# the Go module proxy (k8s.io/kubernetes has no prebuilt binaries there).
# The build takes about six minutes on two cores, so the binary is cached
# and rebuilt only when missing or when KUBE_VERSION changes.
#
# Prints the path of the kube-apiserver binary on its last line.
#
#   KUBE_VERSION     kube-apiserver version to build (default v1.36.3)
#   XDG_CACHE_HOME   cache root (default ~/.cache); the binary goes to
#                    $XDG_CACHE_HOME/meshgate/kube-apiserver-$KUBE_VERSION/
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
# The staging modules (k8s.io/api, k8s.io/apiserver, ...) are published as
# v0.X.Y for Kubernetes v1.X.Y.
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/meshgate/kube-apiserver-$KUBE_VERSION
BIN=$CACHE/kube-apiserver

log() { echo "kube-control-plane: $*" >&2; }

apt_install() {
	command -v apt-get >/dev/null 2>&1 || { log "cannot install $*: no apt-get"; return 1; }
	# Debian's etcd-server starts a system etcd from its postinst; the
	# tests run their own, so keep the package from starting one.
	local policy=/usr/sbin/policy-rc.d created=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
	fi
	log "installing $*"
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
	[ -z "$created" ] || rm -f "$policy"
}

command -v etcd >/dev/null 2>&1 || apt_install etcd-server
# ip (iproute2) sets up the tests' private network namespace.
command -v ip >/dev/null 2>&1 || apt_install iproute2

if [ -x "$BIN" ]; then
	echo "$BIN"
	exit 0
fi

GO=${GO:-go}
SRC=$CACHE/src
mkdir -p "$SRC"
log "building kube-apiserver $KUBE_VERSION into $CACHE (about six minutes on two cores; done once)"
start=$(date +%s)
cd "$SRC"
# k8s.io/kubernetes is not meant to be imported: its go.mod points every
# staging module at ./staging. The replace block below points each at its
# published release instead, generated from that go.mod so none is missed.
"$GO" mod download "k8s.io/kubernetes@$KUBE_VERSION"
KMOD=$("$GO" env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION/go.mod
{
	echo "module kapi"
	echo
	echo "go 1.26"
	echo
	echo "require k8s.io/kubernetes $KUBE_VERSION"
	echo
	echo "replace ("
	awk -v v="$STAGING_VERSION" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }' "$KMOD"
	echo ")"
} >go.mod
# A blank import keeps the requirement through go mod tidy.
cat >main.go <<'GO'
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
GO
GOFLAGS=-mod=mod "$GO" mod tidy
GOFLAGS=-mod=mod "$GO" build -trimpath -ldflags='-s -w' -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$BIN.tmp" "$BIN"
log "built in $(( $(date +%s) - start ))s"
echo "$BIN"
